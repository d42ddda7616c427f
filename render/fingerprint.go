package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// fingerprintVersion changes whenever the same inputs render differently
// (the rendering code, the checks or the canonical form changed), so that
// files written by an older version are rendered again.
const fingerprintVersion = "2"

// fingerprintPrefix starts the second header line of every rendered file:
//
//	# fingerprint: inputs=<hash of what it was rendered from> body=<hash of the body>
//
// The inputs hash covers what the file is rendered from (see unitDigest
// and envDigest), but no commit, so it stays the same across catalog
// commits that do not touch the service.
const fingerprintPrefix = "# fingerprint: inputs="

func fingerprintLine(inputs string, body []byte) string {
	return fingerprintPrefix + inputs + " body=" + hash32(body) + "\n"
}

func hash32(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// settingsDigest hashes the settings a rendering depends on, leaving out
// the positions of values in the settings file.
func settingsDigest(s catalog.Settings) string {
	envs := make([]catalog.Environment, len(s.Environments))
	for i, e := range s.Environments {
		e.Pos = catalog.Pos{}
		envs[i] = e
	}
	regions := make([]catalog.Region, len(s.Regions))
	for i, r := range s.Regions {
		r.Pos = catalog.Pos{}
		regions[i] = r
	}
	s.Environments, s.Regions = envs, regions
	b, err := json.Marshal(s)
	if err != nil {
		panic("render: settings do not encode: " + err.Error()) // plain data: cannot happen
	}
	return hash32(b)
}

// settingsDigests hash the settings as each kind of a service's files
// depends on them: all of them (the pipeline, and, through the checks,
// any file rendered again), what a Service template sees, and what a
// trigger holds.
type settingsDigests struct {
	all, service, trigger string
}

// digestSettings computes the settings digests of s.
func digestSettings(s catalog.Settings) settingsDigests {
	service, err := json.Marshal(struct {
		Org, Project, Connector, Repo, Branch string
		Artifact                              catalog.Artifact
	}{s.Org, s.Project, s.Manifests.Connector, s.Manifests.Repo, s.Manifests.Branch, s.Artifact})
	if err != nil {
		panic("render: settings do not encode: " + err.Error()) // plain data: cannot happen
	}
	return settingsDigests{all: settingsDigest(s), service: hash32(service), trigger: hash32([]byte(s.Org + "\x00" + s.Project))}
}

// unitDigests are the fingerprint inputs of a service's three files.
type unitDigests struct {
	service, pipeline, trigger string
}

// unitDigests hashes what each of svc's files is rendered from, apart:
//
//   - the Service: its template, the settings a Service template sees
//     (org, project, the manifests' connector, repo and branch, the
//     artifact), the catalog repo, and the service's name, team and
//     archetype (a Service template does not see the stages: see
//     serviceData);
//   - the pipeline: its template, all the settings, the catalog repo, and
//     every pipeline-shaping field of the service;
//   - the trigger: the org and project, and the service's name, team and
//     archetype.
//
// Any change of the settings changes the pipeline's digest, so the checks
// between the three files, which depend on the settings, run again.
//
// Whenever one of a service's files is rendered again, the checks between
// the three run again (see renderUnit). The digests run for every service
// of every plan, so they avoid allocating.
func (t *Templates) unitDigests(svc catalog.Service, settings settingsDigests, src Source) unitDigests {
	pt, ok := t.byArchetype[svc.Archetype]
	st, ok2 := t.services[svc.Archetype]
	if !ok || !ok2 {
		return unitDigests{}
	}
	return unitDigests{
		service:  digestOf(svc, false, "service", st.digest, settings.service, src.CatalogRepo),
		pipeline: digestOf(svc, true, "pipeline", pt.digest, settings.all, src.CatalogRepo),
		trigger:  digestOf(svc, false, "trigger", settings.trigger),
	}
}

// digestOf hashes the parts, then svc's name, archetype and team, and,
// with stages, its environments, regions and whether its pipeline is
// enabled. The parts are joined in a buffer on the stack, separated by
// zero bytes.
func digestOf(svc catalog.Service, stages bool, parts ...string) string {
	var scratch [512]byte
	b := append(scratch[:0], fingerprintVersion...)
	b = append(b, 0)
	for _, p := range parts {
		b = append(append(b, p...), 0)
	}
	b = append(append(b, svc.Name...), 0)
	b = append(append(b, svc.Archetype...), 0)
	b = append(append(b, svc.Team...), 0)
	if stages {
		for _, list := range [][]string{svc.Environments, svc.Regions} {
			for _, e := range list {
				b = append(append(b, e...), ',')
			}
			b = append(b, 0)
		}
		b = append(append(b, boolString(svc.Pipeline.Enabled)...), 0)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// envDigest hashes what an environment's file (region "") or one of its
// infrastructure definitions is rendered from: the settings.
func envDigest(settings, env, region string) string {
	return hash32([]byte(fingerprintVersion + "\x00" + settings + "\x00" + env + "\x00" + region))
}

// templateDigest hashes a template's path and text, once when it is loaded.
func templateDigest(path, src string) string {
	return hash32([]byte(path + "\x00" + src))
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// fingerprint reads the inputs and body hashes of a rendered file's header.
func fingerprint(file []byte) (inputs, body string, ok bool) {
	for len(file) > 0 && file[0] == '#' {
		line := file
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			file = nil
		}
		rest, found := bytes.CutPrefix(line, []byte(fingerprintPrefix))
		if !found {
			continue
		}
		in, b, found := strings.Cut(string(rest), " body=")
		return in, b, found
	}
	return "", "", false
}

// upToDate reports whether file was rendered from the inputs whose digest
// is inputs and its body was not edited since: rendering again would give
// the same body. It runs for every file of every plan, and allocates
// nothing.
func upToDate(file []byte, inputs string) bool {
	rest := file
	for len(rest) > 0 && rest[0] == '#' {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		fp, found := bytes.CutPrefix(line, []byte(fingerprintPrefix))
		if !found {
			continue
		}
		in, body, found := bytes.Cut(fp, []byte(" body="))
		if !found || len(in) == 0 || string(in) != inputs {
			return false
		}
		sum := sha256.Sum256(Body(file))
		var want [32]byte
		hex.Encode(want[:], sum[:16])
		return bytes.Equal(body, want[:])
	}
	return false
}

// HandEdited reports whether a rendered file was edited after it was
// rendered: its header's fingerprint names a body its body no longer is.
// A file without a fingerprint (one written by hand, or by a version
// before fingerprints) is not known to be edited.
func HandEdited(file []byte) bool {
	_, body, ok := fingerprint(file)
	return ok && body != hash32(Body(file))
}
