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

// Secrets long enough to pass validation.
const (
	testWebhookSecret = "whsec-from-env-0123456789"
	testAdminToken    = "admin-token-0123456789abcdef0123456789"
)

// exampleEnv supplies the secrets config.example.yml leaves to the
// environment, the way a deployment does, in os.Environ's form.
func exampleEnv(tb testing.TB, extra map[string]string) []string {
	tb.Helper()
	env := map[string]string{
		"PIPELINE_ORCHESTRATOR_GITHUB_PRIVATE_KEY_FILE": "",
		"PIPELINE_ORCHESTRATOR_GITHUB_PRIVATE_KEY":      testPEM,
		"PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET":   testWebhookSecret,
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY_FILE":    "",
		"PIPELINE_ORCHESTRATOR_HARNESS_API_KEY":         "pat.harness.key",
		"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN_FILE": "",
		"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKEN":      testAdminToken,
		"PIPELINE_ORCHESTRATOR_STORE_PATH":              filepath.Join(tb.TempDir(), "pipeline-orchestrator.db"),
		"UNRELATED_VARIABLE":                            "ignored",
	}
	for k, v := range extra {
		env[k] = v
	}
	return environ(env)
}

// environ turns a map into os.Environ's form.
func environ(env map[string]string) []string {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(t, nil))
	if err != nil {
		t.Fatalf("config.example.yml must load with secrets from the environment: %v", err)
	}
	if got, want := cfg.GitHub.WebhookSecret.Value(), testWebhookSecret; got != want {
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

func TestSecretFileIsRead(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "harness.key")
	if err := os.WriteFile(keyFile, []byte("pat.from.file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(t, map[string]string{
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
	cfg, err := LoadConfig("../config.example.yml", exampleEnv(t, map[string]string{
		"PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_CI": "named-token-0123456789abcdef0123456789",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	log := zerolog.New(&logBuf)
	log.Info().Interface("config", cfg).Msg("loaded")
	js, _ := json.Marshal(cfg)
	outputs := []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(js), logBuf.String()}
	for _, secret := range []string{testWebhookSecret, "pat.harness.key", testAdminToken, "named-token-0123456789abcdef0123456789", "MIIB"} {
		for i, out := range outputs {
			if strings.Contains(out, secret) {
				t.Errorf("output %d contains the secret %q", i, secret)
			}
		}
	}
}
