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
const fingerprintVersion = "1"

// fingerprintPrefix starts the second header line of a pipeline file:
//
//	# fingerprint: inputs=<hash of what it was rendered from> body=<hash of the body>
//
// The inputs hash covers the template's text, the settings, the catalog
// repo and the service's pipeline-shaping fields, but no commit, so it
// stays the same across catalog commits that do not touch the service.
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

// inputsDigest hashes everything svc's pipeline is rendered from. It runs
// for every service of every plan, so it avoids allocating: the parts are
// written straight into the hash, separated by zero bytes.
func (t *Templates) inputsDigest(svc catalog.Service, settings string, src Source) string {
	at, ok := t.byArchetype[svc.Archetype]
	if !ok {
		return ""
	}
	h := sha256.New()
	write := func(part string) {
		io.WriteString(h, part)
		h.Write([]byte{0})
	}
	write(fingerprintVersion)
	write(at.digest)
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

// fingerprint reads the inputs and body hashes of a pipeline file's header.
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

// upToDate reports whether file was rendered from exactly svc's current
// inputs and its body was not edited since: rendering again would give
// the same body.
func (t *Templates) upToDate(file []byte, svc catalog.Service, settings string, src Source) bool {
	inputs, body, ok := fingerprint(file)
	return ok && inputs != "" && inputs == t.inputsDigest(svc, settings, src) && body == hash32(Body(file))
}
