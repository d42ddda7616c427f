package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

const testPEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"

// exampleEnv supplies the secrets config.example.yml leaves to the
// environment, the way a deployment does.
func exampleEnv(extra map[string]string) func(string) (string, bool) {
	env := map[string]string{
		"PIPELINE_ORCHESTRATOR_GITHUB_PRIVATE_KEY_FILE":  "",
		"PIPELINE_ORCHESTRATOR_GITHUB_PRIVATE_KEY":       testPEM,
		"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET":    "whsec-from-env",
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY_FILE":     "",
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY":          "pat.harness.key",
		"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN_FILE":  "",
		"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN":       "admin-token",
		"PIPELINE_ORCHESTRATOR_STORE_PATH":               "/tmp/x.db",
		"PIPELINE_ORCHESTRATOR_UNRELATED_VARIABLE_VALUE": "ignored",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(nil))
	if err != nil {
		t.Fatalf("config.example.yml must load with secrets from the environment: %v", err)
	}
	if got, want := cfg.GitHub.WebhookSecret.Value(), "whsec-from-env"; got != want {
		t.Errorf("webhook secret from env = %q, want %q", got, want)
	}
	if cfg.ConfigRepo.Repo != "company/platform-next" || cfg.PipelinesRepo.Repo != "company-harness/harness-pipelines" {
		t.Errorf("repos = %q, %q", cfg.ConfigRepo.Repo, cfg.PipelinesRepo.Repo)
	}
}

// TestExampleConfigMentionsEveryKey keeps config.example.yml complete: a new
// key in Config must be documented there.
func TestExampleConfigMentionsEveryKey(t *testing.T) {
	src, err := os.ReadFile("../config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(src), leaf+":") {
			t.Errorf("config.example.yml does not mention %s", key)
		}
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Secret("")) {
			keys = append(keys, yamlKeys(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func TestConfigErrors(t *testing.T) {
	valid := `
github: {app_id: 1, private_key: "` + strings.ReplaceAll(testPEM, "\n", `\n`) + `", webhook_secret: s}
config_repo: {repo: a/config}
pipelines_repo: {repo: b/pipelines}
harness: {account_id: acc, api_key: k}
`
	tests := map[string]struct {
		src  string
		env  map[string]string
		want []string // substrings that must all appear in the error
	}{
		"empty file names every required key": {
			src: "",
			want: []string{"github.app_id: is required", "github.private_key: is required",
				"github.webhook_secret: is required", "config_repo.repo: must be owner/name",
				"pipelines_repo.repo: must be owner/name", "harness.account_id: is required", "harness.api_key: is required"},
		},
		"unknown key": {src: valid + "harness_typo: {}\n", want: []string{"field harness_typo not found"}},
		"env integer that does not parse is an error": {
			src: valid, env: map[string]string{"PIPELINE_ORCHESTRATOR_GITHUB_APP_ID": "12x"},
			want: []string{"PIPELINE_ORCHESTRATOR_GITHUB_APP_ID: \"12x\" is not an integer"},
		},
		"env duration that does not parse is an error": {
			src: valid, env: map[string]string{"PIPELINE_ORCHESTRATOR_RECONCILE_INTERVAL": "often"},
			want: []string{"PIPELINE_ORCHESTRATOR_RECONCILE_INTERVAL: \"often\" is not a duration"},
		},
		"same repo twice": {
			src:  strings.Replace(valid, "b/pipelines", "a/config", 1),
			want: []string{"pipelines_repo.repo: must differ from config_repo.repo"},
		},
		"secret and secret file both set": {
			src:  valid + "server: {admin_token: x, admin_token_file: /nonexistent}\n",
			want: []string{"server.admin_token and server.admin_token_file are both set"},
		},
		"catalog path escaping the repo": {
			src:  strings.Replace(valid, "repo: a/config", "repo: a/config, catalog_path: ../x.yaml", 1),
			want: []string{"config_repo.catalog_path: must be a relative path"},
		},
		"bad log level and format": {
			src:  valid + "log: {level: loud, format: xml}\n",
			want: []string{"log.level: must be debug, info, warn or error", "log.format: must be json or console"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := tc.env
			_, err := ParseConfig("test.yml", []byte(tc.src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err == nil {
				t.Fatal("ParseConfig succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestSecretFileIsRead(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "harness.key")
	if err := os.WriteFile(keyFile, []byte("pat.from.file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(map[string]string{
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY":      "",
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY_FILE": keyFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Harness.APIKey.Value(); got != "pat.from.file" {
		t.Errorf("api key = %q, want the file's content without the newline", got)
	}
}

// TestSecretsNeverPrinted formats the loaded configuration every way a log
// line or an error could, and looks for the secrets.
func TestSecretsNeverPrinted(t *testing.T) {
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	log := zerolog.New(&logBuf)
	log.Info().Interface("config", cfg).Msg("loaded")
	js, _ := json.Marshal(cfg)
	outputs := []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(js), logBuf.String()}
	for _, secret := range []string{"whsec-from-env", "pat.harness.key", "admin-token", "MIIB"} {
		for i, out := range outputs {
			if strings.Contains(out, secret) {
				t.Errorf("output %d contains the secret %q", i, secret)
			}
		}
	}
}
