package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
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

// unitDigest hashes everything svc's Service, pipeline and trigger are
// rendered from: both templates of its archetype, the settings, the
// catalog repo and the service's pipeline-shaping fields. The three files
// share it: each is checked against the others, so a change to any input
// renders all three again. It runs for every service of every plan, so it
// avoids allocating: the parts are written straight into the hash,
// separated by zero bytes.
func (t *Templates) unitDigest(svc catalog.Service, settings string, src Source) string {
	pt, ok := t.byArchetype[svc.Archetype]
	st, ok2 := t.services[svc.Archetype]
	if !ok || !ok2 {
		return ""
	}
	h := sha256.New()
	write := func(part string) {
		io.WriteString(h, part)
		h.Write([]byte{0})
	}
	write(fingerprintVersion)
	write(pt.digest)
	write(st.digest)
	write(settings)
	write(src.CatalogRepo)
	write(svc.Name)
	write(svc.Archetype)
	write(svc.Team)
	for _, e := range svc.Environments {
		io.WriteString(h, e)
		h.Write([]byte{','})
	}
	h.Write([]byte{0})
	for _, r := range svc.Regions {
		io.WriteString(h, r)
		h.Write([]byte{','})
	}
	h.Write([]byte{0})
	write(boolString(svc.Pipeline.Enabled))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
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
// the same body.
func upToDate(file []byte, inputs string) bool {
	in, body, ok := fingerprint(file)
	return ok && in != "" && in == inputs && body == hash32(Body(file))
}
