package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validEnv is a complete configuration given by environment variables, so
// that each case's file holds only its mistake and every line number in the
// expectations is plain to see.
func validEnv(dir string) map[string]string {
	return map[string]string{
		"PIPELINE_ORCHESTRATOR_GITHUB_APP_ID":         "1",
		"PIPELINE_ORCHESTRATOR_GITHUB_PRIVATE_KEY":    testPEM,
		"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET": testWebhookSecret,
		"PIPELINE_ORCHESTRATOR_CONFIG_REPO_REPO":      "a/config",
		"PIPELINE_ORCHESTRATOR_PIPELINES_REPO_REPO":   "b/pipelines",
		"PIPELINE_ORCHESTRATOR_HARNESS_ACCOUNT_ID":    "acc",
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY":       "pat.harness.key",
		"PIPELINE_ORCHESTRATOR_STORE_PATH":            filepath.Join(dir, "po.db"),
	}
}

// TestConfigMistakes gives every kind of mistake and wants, for each, the
// complete list of messages: where (file:line:column, the variable, or
// nothing for a default), the dotted key, and what to do.
func TestConfigMistakes(t *testing.T) {
	const pem = `"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"`
	tests := map[string]struct {
		yaml  string
		env   map[string]string // over validEnv; "-" unsets
		files map[string]string // written in {{dir}} first
		want  []string          // {{dir}} is the test's directory
	}{
		// Type errors and typos in the file.
		"misspelled key": {
			yaml: "github:\n  tiemout: 5s\n",
			want: []string{"config.yml:2:3: github.tiemout: unknown key (did you mean timeout?)"},
		},
		"key with the wrong case": {
			yaml: "log:\n  Level: debug\n",
			want: []string{"config.yml:2:3: log.Level: unknown key (did you mean level?)"},
		},
		"key in the wrong section": {
			yaml: "webhook_secret: abc\n",
			want: []string{"config.yml:1:1: webhook_secret: unknown key here (did you mean github.webhook_secret?)"},
		},
		"unknown key with nothing near": {
			yaml: "log:\n  destination: stderr\n",
			want: []string{"config.yml:2:3: log.destination: unknown key (log has level, format)"},
		},
		"unknown section": {
			yaml: "server: {}\nmetrics:\n  path: /metrics\n",
			want: []string{"config.yml:2:1: metrics: unknown section (the sections are server, github, config_repo, pipelines_repo, harness, store, workers, reconcile, log)"},
		},
		"text for an integer": {
			yaml: "workers:\n  deliveries: two\n",
			want: []string{`config.yml:2:15: workers.deliveries: "two" is not an integer`},
		},
		"integer out of range": {
			yaml: "workers:\n  operations: 99999999999999999999\n",
			want: []string{`config.yml:2:15: workers.operations: "99999999999999999999" is out of range`},
		},
		"text for a duration": {
			yaml: "github:\n  timeout: 5 minutes\n",
			want: []string{`config.yml:2:12: github.timeout: "5 minutes" is not a duration (e.g. 30s, 10m)`},
		},
		"duration without a unit": {
			yaml: "reconcile:\n  interval: 30\n",
			want: []string{`config.yml:2:13: reconcile.interval: "30" is not a duration: add a unit (e.g. 30s, 30m)`},
		},
		"text for a number": {
			yaml: "harness:\n  rate_limit: fast\n",
			want: []string{`config.yml:2:15: harness.rate_limit: "fast" is not a number`},
		},
		"text for a boolean": {
			yaml: "server:\n  status_requires_token: yes\n",
			want: []string{`config.yml:2:26: server.status_requires_token: "yes" is not true or false`},
		},
		"list for a string": {
			yaml: "server:\n  address: [a, b]\n",
			want: []string{`config.yml:2:12: server.address: must be a string, got a list`},
		},
		"value for a section": {
			yaml: "log: debug\n",
			want: []string{`config.yml:1:6: log: must be a mapping of keys (level, format), got "debug"`},
		},
		"list for a mapping of tokens": {
			yaml: "server:\n  admin_tokens: [a, b]\n",
			want: []string{`config.yml:2:17: server.admin_tokens: must be a mapping of name: value, got a list`},
		},
		"duplicate key": {
			yaml: "log:\n  level: info\n  format: json\n  level: debug\n",
			want: []string{"config.yml:4:3: log.level: duplicate key (first set on line 2)"},
		},
		"duplicate section": {
			yaml: "log:\n  level: info\nlog:\n  format: json\n",
			want: []string{"config.yml:3:1: log: duplicate key (first set on line 1)"},
		},
		"duplicate token name": {
			yaml: "server:\n  admin_tokens:\n    ci: " + testAdminToken + "1\n    ci: " + testAdminToken + "2\n",
			want: []string{"config.yml:4:5: server.admin_tokens.ci: duplicate name (first set on line 3)"},
		},
		"merge key": {
			yaml: "base: &b {level: info}\nlog:\n  <<: *b\n",
			want: []string{
				"config.yml:1:1: base: unknown section (the sections are server, github, config_repo, pipelines_repo, harness, store, workers, reconcile, log)",
				"config.yml:3:3: log: merge keys (<<) are not supported: write the keys out",
			},
		},
		"top level is a list": {
			yaml: "- server\n- github\n",
			want: []string{"config.yml:1:1: the configuration must be a mapping of sections (server:, github:, ...), got a list"},
		},
		"top level is a string": {
			yaml: "server.address=:8080\n",
			want: []string{`config.yml:1:1: the configuration must be a mapping of sections (server:, github:, ...), got "server.address=:8080"`},
		},
		"syntax error (yaml.v3 gives no column), with the environment's problems and no others": {
			yaml: "server:\n\taddress: x\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_TIMOUT": "5s", "PIPELINE_ORCHESTRATOR_GITHUB_APP_ID": "-"},
			want: []string{
				"config.yml:2: YAML syntax: found character that cannot start any token",
				"PIPELINE_ORCHESTRATOR_GITHUB_TIMOUT: unknown variable (did you mean PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT?)",
			},
		},
		"two documents": {
			yaml: "log: {level: info}\n---\nlog: {level: debug}\n",
			want: []string{`config.yml:3:1: a second YAML document: the configuration is one document (remove the "---")`},
		},

		// The environment.
		"variable that does not parse": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT": "x"},
			want: []string{`PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT: github.timeout: "x" is not a duration (e.g. 30s, 10m)`},
		},
		"integer variable that does not parse": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_APP_ID": "12x"},
			want: []string{`PIPELINE_ORCHESTRATOR_GITHUB_APP_ID: github.app_id: "12x" is not an integer`},
		},
		"misspelled variable": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOKSECRET": "x"},
			want: []string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOKSECRET: unknown variable " +
				"(did you mean PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET?)"},
		},
		"variable naming no key": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_METRICS_PATH": "/m"},
			want: []string{"PIPELINE_ORCHESTRATOR_METRICS_PATH: unknown variable: no configuration key has this name (see config.example.yml)"},
		},
		"variable for a whole mapping": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS": "x"},
			want: []string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS: server.admin_tokens is a mapping: " +
				"set one variable per entry, PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_<NAME>"},
		},
		"invalid value from a variable": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_LOG_LEVEL": "loud"},
			want: []string{`PIPELINE_ORCHESTRATOR_LOG_LEVEL: log.level: must be debug, info, warn or error, got "loud"`},
		},
		"variable overrides the file, and is named": {
			yaml: "log:\n  level: debug\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_LOG_LEVEL": "loud"},
			want: []string{`PIPELINE_ORCHESTRATOR_LOG_LEVEL: log.level: must be debug, info, warn or error, got "loud"`},
		},

		// Validation: positions of values from the file, names of defaults.
		"invalid value from the file": {
			yaml: "log:\n  level: loud\n  format: xml\n",
			want: []string{
				`config.yml:2:10: log.level: must be debug, info, warn or error, got "loud"`,
				`config.yml:3:11: log.format: must be json or console, got "xml"`,
			},
		},
		"required key left to its default": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_APP_ID": "-"},
			want: []string{"github.app_id: is required: the GitHub App's numeric id"},
		},
		"same repository twice": {
			yaml: "pipelines_repo:\n  repo: a/config\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_PIPELINES_REPO_REPO": "-"},
			want: []string{"config.yml:2:9: pipelines_repo.repo: must differ from config_repo.repo"},
		},
		"catalog path escaping the repository": {
			yaml: "config_repo:\n  catalog_path: ../x.yaml\n",
			want: []string{`config.yml:2:17: config_repo.catalog_path: must be a relative path inside the repository, got "../x.yaml"`},
		},

		// Secrets: minimum lengths, never quoted.
		"short webhook secret in the file": {
			yaml: "github:\n  webhook_secret: hunter2\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET": "-"},
			want: []string{"config.yml:2:19: github.webhook_secret: is 7 characters: use at least 16 random ones " +
				"(e.g. `openssl rand -hex 32`) and set the same secret in the GitHub App's settings"},
		},
		"short webhook secret in a variable": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET": "hunter2"},
			want: []string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET: github.webhook_secret: is 7 characters: use at least 16 random ones " +
				"(e.g. `openssl rand -hex 32`) and set the same secret in the GitHub App's settings"},
		},
		"empty webhook secret": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET": ""},
			want: []string{"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET: github.webhook_secret: is required: without it webhook signatures are not checked"},
		},
		"short admin token in a variable": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN": "hunter2"},
			want: []string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN: server.admin_token: is 7 characters: use at least 32 random ones (e.g. `openssl rand -hex 32`)"},
		},
		"short admin token in a file": {
			yaml:  "server:\n  admin_token_file: {{dir}}/token\n",
			files: map[string]string{"token": "hunter2\n"},
			want: []string{"config.yml:2:21: server.admin_token (read from {{dir}}/token): is 7 characters: " +
				"use at least 32 random ones (e.g. `openssl rand -hex 32`)"},
		},
		"admin token with a space": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN": "hunter2 " + testAdminToken},
			want: []string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN: server.admin_token: " +
				"contains spaces or control characters: a bearer token cannot"},
		},
		"secret file missing": {
			yaml: "harness:\n  api_key_file: {{dir}}/missing\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY": "-"},
			want: []string{"config.yml:2:17: harness.api_key_file: open {{dir}}/missing: no such file or directory"},
		},
		"secret and secret file both set": {
			yaml:  "server:\n  admin_token: " + testAdminToken + "\n  admin_token_file: {{dir}}/token\n",
			files: map[string]string{"token": testAdminToken},
			want:  []string{"config.yml:3:21: server.admin_token_file: both this and server.admin_token are set; keep one"},
		},

		// Named admin tokens.
		"named tokens: bad name, short, empty, reused, name taken": {
			yaml: "server:\n" +
				"  admin_token: " + testAdminToken + "\n" +
				"  admin_tokens:\n" +
				"    Deploy Bot: " + testAdminToken + "x\n" +
				"    ci: hunter2\n" +
				"    empty:\n" +
				"    admin_token: " + testAdminToken + "y\n" +
				"    reused: " + testAdminToken + "\n",
			want: []string{
				`config.yml:4:17: server.admin_tokens.Deploy Bot: "Deploy Bot" is not a valid name: use lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)`,
				"config.yml:5:9: server.admin_tokens.ci: is 7 characters: use at least 32 random ones (e.g. `openssl rand -hex 32`)",
				"config.yml:6:5: server.admin_tokens.empty: is empty: give the token, or remove the entry",
				"config.yml:7:18: server.admin_tokens.admin_token: the name admin_token is taken by server.admin_token; pick another",
				"config.yml:8:13: server.admin_tokens.reused: is the same token as server.admin_token: give each client its own token, so the logs can tell them apart",
			},
		},
		"same token under two names": {
			env: map[string]string{
				"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_CI":     testAdminToken,
				"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_DEPLOY": testAdminToken,
			},
			want: []string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_DEPLOY: server.admin_tokens.deploy: " +
				"is the same token as server.admin_tokens.ci: give each client its own token, so the logs can tell them apart"},
		},
		"named token in a file too short": {
			yaml:  "server:\n  admin_token_files:\n    ci: {{dir}}/ci\n",
			files: map[string]string{"ci": "hunter2"},
			want: []string{"config.yml:3:9: server.admin_tokens.ci (read from {{dir}}/ci): is 7 characters: " +
				"use at least 32 random ones (e.g. `openssl rand -hex 32`)"},
		},
		"named token and its file both set": {
			yaml:  "server:\n  admin_tokens:\n    ci: " + testAdminToken + "\n  admin_token_files:\n    ci: {{dir}}/ci\n",
			files: map[string]string{"ci": testAdminToken},
			want:  []string{"config.yml:5:9: server.admin_token_files.ci: both this and server.admin_tokens.ci are set; keep one"},
		},

		// The private side.
		"private address on the public port": {
			yaml: "server:\n  address: \":8080\"\n  private_address: \"0.0.0.0:8080\"\n",
			want: []string{`config.yml:3:20: server.private_address: "0.0.0.0:8080" would listen on the same port as server.address (":8080"): the private side needs its own port`},
		},
		"private address without a port": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_PRIVATE_ADDRESS": "localhost"},
			want: []string{`PIPELINE_ORCHESTRATOR_SERVER_PRIVATE_ADDRESS: server.private_address: "localhost" is not host:port (e.g. ":8080" or "127.0.0.1:9090")`},
		},
		"address with a bad port": {
			yaml: "server:\n  address: \":http-alt\"\n",
			want: []string{`config.yml:2:12: server.address: ":http-alt": the port must be a number from 0 to 65535`},
		},
		"status page needs a token that is not there": {
			yaml: "server:\n  status_requires_token: true\n",
			want: []string{"config.yml:2:26: server.status_requires_token: is true but no admin token is set (server.admin_token or server.admin_tokens)"},
		},

		// The store's directory.
		"store directory missing (variable)": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_STORE_PATH": "{{dir}}/nope/po.db"},
			want: []string{"PIPELINE_ORCHESTRATOR_STORE_PATH: store.path: directory {{dir}}/nope does not exist: " +
				"create it, or fix the path (the server does not create it)"},
		},
		"store directory missing (file)": {
			yaml: "store:\n  path: {{dir}}/nope/po.db\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_STORE_PATH": "-"},
			want: []string{"config.yml:2:9: store.path: directory {{dir}}/nope does not exist: " +
				"create it, or fix the path (the server does not create it)"},
		},
		"store directory is a file": {
			env:   map[string]string{"PIPELINE_ORCHESTRATOR_STORE_PATH": "{{dir}}/plain/po.db"},
			files: map[string]string{"plain": ""},
			want:  []string{"PIPELINE_ORCHESTRATOR_STORE_PATH: store.path: {{dir}}/plain is not a directory"},
		},
		"store in memory": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_STORE_PATH": ":memory:"},
			want: []string{`PIPELINE_ORCHESTRATOR_STORE_PATH: store.path: must be a plain file path, got ":memory:"`},
		},

		// GitHub Enterprise Server.
		"GHES URL without /api/v3/": {
			yaml: "github:\n  api_url: https://ghe.example.com\n",
			want: []string{`config.yml:2:12: github.api_url: "https://ghe.example.com" is a GitHub Enterprise Server URL without /api/v3/: use "https://ghe.example.com/api/v3/"`},
		},
		"GHES URL with another path": {
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_API_URL": "https://ghe.example.com/api/"},
			want: []string{`PIPELINE_ORCHESTRATOR_GITHUB_API_URL: github.api_url: "https://ghe.example.com/api/" is a GitHub Enterprise Server URL without /api/v3/: use "https://ghe.example.com/api/v3/"`},
		},
		"GHES URL with another API version": {
			yaml: "github:\n  api_url: https://ghe.example.com/prefix/api/v4\n",
			want: []string{`config.yml:2:12: github.api_url: "https://ghe.example.com/prefix/api/v4" is a GitHub Enterprise Server URL without /api/v3/: use "https://ghe.example.com/prefix/api/v3/"`},
		},
		"web address for the API": {
			yaml: "github:\n  api_url: https://github.com/\n",
			want: []string{`config.yml:2:12: github.api_url: "https://github.com/" is GitHub's web address, not its API: use "https://api.github.com/"`},
		},

		// Everything at once, sorted: file by position, then variables,
		// then defaults.
		"every problem at once, sorted": {
			yaml: "log:\n  format: xml\n  level: loud\nserver:\n  adress: \":8080\"\n",
			env: map[string]string{
				"PIPELINE_ORCHESTRATOR_WORKERS_DELIVERIES": "0",
				"PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT":     "x",
				"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY":    "-",
			},
			want: []string{
				`config.yml:2:11: log.format: must be json or console, got "xml"`,
				`config.yml:3:10: log.level: must be debug, info, warn or error, got "loud"`,
				`config.yml:5:3: server.adress: unknown key (did you mean address?)`,
				`PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT: github.timeout: "x" is not a duration (e.g. 30s, 10m)`,
				`PIPELINE_ORCHESTRATOR_WORKERS_DELIVERIES: workers.deliveries: must be at least 1`,
				`harness.api_key: is required (or harness.api_key_file)`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			expand := func(s string) string { return strings.ReplaceAll(s, "{{dir}}", dir) }
			for file, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := validEnv(dir)
			for k, v := range tc.env {
				if v == "-" {
					delete(env, k)
				} else {
					env[k] = expand(v)
				}
			}
			_, err := ParseConfig("config.yml", []byte(expand(tc.yaml)), environ(env))
			if err == nil {
				t.Fatal("ParseConfig succeeded, want an error")
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, expand(w))
			}
			got := strings.Split(err.Error(), "\n")
			if got[0] != "invalid configuration:" {
				t.Errorf("first line = %q, want the header", got[0])
			}
			if diff := cmp.Diff(want, got[1:]); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, secret := range []string{"hunter2", testAdminToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret %q:\n%v", secret, err)
				}
			}
		})
	}
}

// TestConfigEmptyFileNamesEveryRequiredKey: with neither file nor
// environment, each required key is named once, without a position.
func TestConfigEmptyFileNamesEveryRequiredKey(t *testing.T) {
	t.Chdir(t.TempDir()) // the default store.path is relative: data/...
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := ParseConfig("config.yml", nil, nil)
	want := []string{
		"invalid configuration:",
		"github.app_id: is required: the GitHub App's numeric id",
		"github.private_key: is required (or github.private_key_file): the App's PEM private key",
		"github.webhook_secret: is required: without it webhook signatures are not checked",
		`config_repo.repo: must be owner/name, got ""`,
		`pipelines_repo.repo: must be owner/name, got ""`,
		"harness.account_id: is required",
		"harness.api_key: is required (or harness.api_key_file)",
	}
	if err == nil {
		t.Fatal("ParseConfig succeeded, want an error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestConfigDefaultStoreDirMustExist(t *testing.T) {
	t.Chdir(t.TempDir())
	env := validEnv("")
	delete(env, "PIPELINE_ORCHESTRATOR_STORE_PATH")
	_, err := ParseConfig("config.yml", nil, environ(env))
	if err == nil || !strings.Contains(err.Error(), "\nstore.path: directory data (") || !strings.Contains(err.Error(), "data) does not exist") {
		t.Errorf("error = %v, want store.path naming the directory data and its absolute path", err)
	}
}

// TestConfigAccepted covers what loads, and how it is normalised.
func TestConfigAccepted(t *testing.T) {
	tests := map[string]struct {
		yaml  string
		env   map[string]string
		files map[string]string
		check func(t *testing.T, cfg Config)
	}{
		"GHES URL gets its trailing slash": {
			yaml: "github:\n  api_url: https://ghe.example.com/api/v3\n",
			check: func(t *testing.T, cfg Config) {
				if got, want := cfg.GitHub.APIURL, "https://ghe.example.com/api/v3/"; got != want {
					t.Errorf("api_url = %q, want %q", got, want)
				}
			},
		},
		"GitHub Enterprise Cloud with data residency serves the API at the root": {
			env: map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_API_URL": "https://api.octocorp.ghe.com"},
			check: func(t *testing.T, cfg Config) {
				if got, want := cfg.GitHub.APIURL, "https://api.octocorp.ghe.com/"; got != want {
					t.Errorf("api_url = %q, want %q", got, want)
				}
			},
		},
		"the offline commands' variables are not configuration": {
			env: map[string]string{EnvPipelineSchema: "schema.json", EnvTriggerSchema: "trigger.json"},
			check: func(t *testing.T, cfg Config) {
				if cfg.Log.Level != DefaultConfig().Log.Level {
					t.Errorf("log level = %q", cfg.Log.Level)
				}
			},
		},
		"a key without a value keeps its default": {
			yaml: "github:\n  timeout:\nlog:\n",
			check: func(t *testing.T, cfg Config) {
				if got, want := cfg.GitHub.Timeout, DefaultConfig().GitHub.Timeout; got != want {
					t.Errorf("timeout = %v, want the default %v", got, want)
				}
			},
		},
		"aliases": {
			yaml: "workers:\n  deliveries: &n 3\n  operations: *n\n",
			check: func(t *testing.T, cfg Config) {
				if cfg.Workers.Deliveries != 3 || cfg.Workers.Operations != 3 {
					t.Errorf("workers = %+v, want 3 and 3", cfg.Workers)
				}
			},
		},
		"private side": {
			yaml: "server:\n  address: \":8080\"\n  private_address: \"127.0.0.1:9090\"\n  status_requires_token: true\n",
			env:  map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN": testAdminToken},
			check: func(t *testing.T, cfg Config) {
				if cfg.Server.PrivateAddress != "127.0.0.1:9090" || !cfg.Server.StatusRequiresToken {
					t.Errorf("server = %+v", cfg.Server)
				}
			},
		},
		"tokens from the file, variables and files, in order": {
			yaml: "server:\n  admin_token: " + testAdminToken + "\n" +
				"  admin_tokens:\n    zeta: " + strings.Repeat("z", 32) + "\n    deploy-bot: " + strings.Repeat("d", 32) + "\n" +
				"  admin_token_files:\n    from_file: {{dir}}/tok\n",
			env:   map[string]string{"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_CI_RUNNER": strings.Repeat("c", 32)},
			files: map[string]string{"tok": strings.Repeat("f", 32) + "\n"},
			check: func(t *testing.T, cfg Config) {
				want := []NamedToken{
					{Name: "admin_token", Token: testAdminToken},
					{Name: "ci_runner", Token: Secret(strings.Repeat("c", 32))},
					{Name: "deploy-bot", Token: Secret(strings.Repeat("d", 32))},
					{Name: "from_file", Token: Secret(strings.Repeat("f", 32))},
					{Name: "zeta", Token: Secret(strings.Repeat("z", 32))},
				}
				if diff := cmp.Diff(want, cfg.Server.Tokens()); diff != "" {
					t.Errorf("Tokens() (-want +got):\n%s", diff)
				}
			},
		},
		"no token: admin API disabled": {
			check: func(t *testing.T, cfg Config) {
				if got := cfg.Server.Tokens(); len(got) != 0 {
					t.Errorf("Tokens() = %v, want none", got)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			expand := func(s string) string { return strings.ReplaceAll(s, "{{dir}}", dir) }
			for file, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := validEnv(dir)
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := ParseConfig("config.yml", []byte(expand(tc.yaml)), environ(env))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

// TestValidateNamesKeys: Validate on a Config built in code names the keys,
// without positions.
func TestValidateNamesKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.Path = filepath.Join(t.TempDir(), "po.db")
	cfg.GitHub.AppID = 1
	cfg.GitHub.PrivateKey = testPEM
	cfg.GitHub.WebhookSecret = testWebhookSecret
	cfg.ConfigRepo.Repo = "a/config"
	cfg.PipelinesRepo.Repo = "b/pipelines"
	cfg.Harness.AccountID = "acc"
	cfg.Harness.APIKey = "key"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid configuration: %v", err)
	}
	cfg.GitHub.APIURL = "https://ghe.example.com"
	cfg.Server.AdminToken = "short"
	err := cfg.Validate()
	want := `server.admin_token: is 5 characters: use at least 32 random ones (e.g. ` + "`openssl rand -hex 32`" + `)
github.api_url: "https://ghe.example.com" is a GitHub Enterprise Server URL without /api/v3/: use "https://ghe.example.com/api/v3/"`
	if err == nil {
		t.Fatal("Validate succeeded, want an error")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"timeout", "timeout", 0},
		{"tiemout", "timeout", 1}, // swap
		{"webhooksecret", "webhook_secret", 1},
		{"adress", "address", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
