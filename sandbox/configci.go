package sandbox

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// The config repository's CI, played by the sandbox. In the seed
// architecture the config repository's own CI (not this app) renders each
// service's Kubernetes manifests for every environment and region into
// generated/<service>/<env>/<region>/, and Harness reads them at deploy
// time through the cross-org connector. The stand-in CI watches the
// config repository's default branch and, whenever its head moves, makes
// one commit that writes what the catalog implies: for every service,
// environment and region it runs in, manifests.yaml (a Deployment and a
// Service that template the image as {{.Values.image}}, as the README's
// contract asks) and values.yaml (image: <+artifacts.primary.image>, which
// Harness resolves from the Service's primary artifact, and the values of
// that environment and region), at the paths the settings' manifests.path
// and manifests.values_path give. Files of services no longer in the
// catalog go. It is test and demo code: the product never writes to the
// config repository.

// ciPoll is how often the CI looks at the config repository's head.
const ciPoll = 10 * time.Millisecond

// configCI is the config repository's CI.
type configCI struct {
	si   *StandIns
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	seen    string // the head last processed
	lastErr error
}

// StartConfigCI starts the config repository's CI (see configci.go): it
// brings generated/ in line with the catalog now, then after every move of
// the default branch's head until Close. Calling it twice starts one CI.
func (s *StandIns) StartConfigCI() error {
	if s.ci != nil {
		return nil
	}
	c := &configCI{si: s, stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.step(); err != nil {
		return err
	}
	s.ci = c
	go c.run()
	return nil
}

// ConfigCIBusy reports whether the config repository's CI has a head of
// the default branch left to process, and the error of its last run.
func (s *StandIns) ConfigCIBusy() (bool, error) {
	if s.ci == nil {
		return false, nil
	}
	head := s.GitHub.Head(s.ConfigRepo, DefaultBranch)
	s.ci.mu.Lock()
	defer s.ci.mu.Unlock()
	return head != s.ci.seen, s.ci.lastErr
}

func (c *configCI) run() {
	defer close(c.done)
	t := time.NewTicker(ciPoll)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		err := c.step()
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
	}
}

func (c *configCI) close() {
	close(c.stop)
	<-c.done
}

// step processes the head of the default branch if it moved.
func (c *configCI) step() error {
	repo := c.si.ConfigRepo
	head := c.si.GitHub.Head(repo, DefaultBranch)
	c.mu.Lock()
	seen := c.seen
	c.mu.Unlock()
	if head == "" || head == seen {
		return nil
	}
	settings := catalog.DefaultSettings()
	if src, ok := c.si.GitHub.File(c.si.PipelinesRepo, DefaultBranch, catalog.SettingsPath); ok {
		settings = settingsOf(map[string]string{catalog.SettingsPath: src})
	}
	src, _ := c.si.GitHub.File(repo, head, CatalogPath)
	want, err := generate(settings, []byte(src))
	if err == nil {
		if changes := ciChanges(settings, c.si.GitHub.Tree(repo, head), want); len(changes) > 0 {
			// A new head: the next step sees it and finds nothing to do.
			c.si.GitHub.Commit(repo, DefaultBranch, "ci: generate the manifests of "+CatalogPath, changes)
		}
	}
	c.mu.Lock()
	c.seen = head
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("config CI at %s: %w", head, err)
	}
	return nil
}

// ciChanges are the writes and deletes (nil) that turn the tree's
// generated files into want: every file under the fixed part of the
// settings' paths (generated/) that want lacks goes.
func ciChanges(s catalog.Settings, tree map[string]string, want map[string]string) map[string]*string {
	changes := map[string]*string{}
	for p, content := range want {
		if tree[p] != content {
			changes[p] = &content
		}
	}
	prefixes := []string{fixedPrefix(s.Manifests.PathPattern), fixedPrefix(s.Manifests.ValuesPathPattern)}
	for p := range tree {
		if _, ok := want[p]; ok {
			continue
		}
		for _, pre := range prefixes {
			if pre != "" && strings.HasPrefix(p, pre) {
				changes[p] = nil
			}
		}
	}
	return changes
}

// fixedPrefix is the directory part of a path pattern before its first
// placeholder ("generated/" of "generated/{service}/…").
func fixedPrefix(pattern string) string {
	i := strings.IndexByte(pattern, '{')
	if i < 0 {
		return ""
	}
	return pattern[:strings.LastIndexByte(pattern[:i], '/')+1]
}

// ciService is what the CI reads of a catalog entry.
type ciService struct {
	Name         string   `yaml:"name"`
	Team         string   `yaml:"team"`
	Environments []string `yaml:"environments"`
	Regions      []string `yaml:"regions"`
	Profile      string   `yaml:"profile"`
}

// generate returns the generated files of a catalog (path → content).
func generate(s catalog.Settings, src []byte) (map[string]string, error) {
	var doc struct {
		Services []ciService `yaml:"services"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", CatalogPath, err)
	}
	out := map[string]string{}
	for _, svc := range doc.Services {
		for _, st := range ciStages(s, svc) {
			v := catalog.PatternValues{Service: svc.Name, Team: svc.Team, Env: st.env, Region: st.region}
			out[catalog.Expand(s.Manifests.PathPattern, v)] = manifestsFile(svc)
			out[catalog.Expand(s.Manifests.ValuesPathPattern, v)] = valuesFile(s, svc, st.env, st.region)
		}
	}
	return out, nil
}

type ciStage struct {
	env    catalog.Environment
	region string
}

// ciStages are the environments (in the settings' order) and regions a
// service runs in: those it names that the environment serves.
func ciStages(s catalog.Settings, svc ciService) []ciStage {
	wanted := map[string]bool{}
	for _, name := range svc.Environments {
		if env, ok := s.Environment(name); ok {
			wanted[env.Name] = true
		}
	}
	var out []ciStage
	for _, env := range s.Environments {
		if !wanted[env.Name] {
			continue
		}
		for _, r := range env.Regions {
			for _, mine := range svc.Regions {
				if mine == r {
					out = append(out, ciStage{env, r})
				}
			}
		}
	}
	return out
}

// replicas per catalog profile.
var replicas = map[string]int{"small": 1, "medium": 2, "large": 3}

func manifestsFile(svc ciService) string {
	return fmt.Sprintf(`# Generated by the config repository's CI from %[1]s: do not edit.
# Harness renders it with the values file beside it: the image is {{.Values.image}}.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: {{.Values.namespace}}
  labels:
    app: %[2]s
    team: %[3]s
    environment: {{.Values.environment}}
    region: {{.Values.region}}
spec:
  replicas: {{.Values.replicas}}
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      containers:
        - name: %[2]s
          image: {{.Values.image}}
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: %[2]s
  namespace: {{.Values.namespace}}
spec:
  selector:
    app: %[2]s
  ports:
    - port: 80
      targetPort: 8080
`, CatalogPath, svc.Name, svc.Team)
}

func valuesFile(s catalog.Settings, svc ciService, env catalog.Environment, region string) string {
	n, ok := replicas[svc.Profile]
	if !ok {
		n = 1
	}
	keys := []string{"environment", "region", "namespace"}
	vals := map[string]string{"environment": env.Name, "region": region, "namespace": s.Namespace(env, region)}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by the config repository's CI from %s: do not edit.\n", CatalogPath)
	b.WriteString("# Harness resolves the image from the Service's primary artifact and the run's tag.\n")
	b.WriteString("image: <+artifacts.primary.image>\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, vals[k])
	}
	fmt.Fprintf(&b, "replicas: %d\n", n)
	return b.String()
}
