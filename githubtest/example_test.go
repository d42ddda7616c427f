package githubtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// Example wires the stand-in the way the end-to-end tests and the demo do:
// two organizations with the App installed, a config repository and a
// pipelines repository, then a human change that the App will hear about.
func Example() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	gh := githubtest.New(githubtest.Options{
		AppID:         1,
		AppPublicKey:  &key.PublicKey, // the App signs its JWTs with key
		AppSlug:       "pipeline-orchestrator",
		WebhookSecret: "secret",   // the App's app.webhook_secret
		UserToken:     "ghp_demo", // for curl: Authorization: token ghp_demo
	})
	defer gh.Close()
	gh.AddInstallation("company")
	gh.AddInstallation("company-harness")
	gh.CreateRepo("company", "platform-next", "main", map[string]string{
		"catalog/services.yaml": "services: []\n",
	})
	gh.CreateRepo("company-harness", "harness-pipelines", "main", map[string]string{
		".pipeline-orchestrator.yml": "environments: {}\n",
	})
	// The App's github.v3_api_url is gh.URL. Once it listens:
	//   gh.SetWebhookURL(appURL + "/api/github/hook")

	sha := gh.Commit("company/platform-next", "add-payment", "Add payment-service", map[string]*string{
		"catalog/services.yaml": ptr("services:\n  - name: payment-service\n"),
	})
	n := gh.OpenPR("company/platform-next", "add-payment", "main", "Add payment-service", "")
	gh.WaitIdle()
	pr, _ := gh.PR("company/platform-next", n)
	fmt.Println(pr.HeadSHA == sha, pr.State)
	for _, d := range gh.Deliveries() {
		fmt.Println(strings.TrimSpace(d.Event + " " + d.Action))
	}
	// Output:
	// true open
	// push
	// check_suite requested
	// pull_request opened
}
