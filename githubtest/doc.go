// Package githubtest is an in-process, stateful stand-in for the GitHub REST
// API and for GitHub's webhook sender.
//
// Real clients (go-github, go-githubapp, ghinstallation) talk to it over
// HTTP: it verifies the App's JWT, mints installation tokens scoped to one
// installation's repositories, keeps real git objects (blob, tree and commit
// ids are the ones git computes), pull requests, labels, comments and check
// runs, answers with GitHub's paths, JSON shapes and status codes, and sends
// signed webhooks when its state changes. Go methods such as Commit, OpenPR
// and MergePR act as a human user would, through the same state transitions
// as the HTTP API, so they fire the same webhooks. Setup methods
// (CreateRepo, AddInstallation, Fork) send nothing.
//
// The routes that are the contract with the real API, the ones the app's
// client calls, are listed in one place: Server.contract in server.go
// (ContractRoutes names them). The others are helpers for tests and the
// demo. Optional web pages (Options.ServeWeb) stand for github.com's pages,
// on their own listener.
//
// # As strict as GitHub
//
// Each rule below names its source beside the code, and this package's
// tests pin it, so that loosening it breaks a test (the cap on recursive
// trees excepted: 100,001 files are slow to build):
//
//   - App JWTs: RS256, issuer the App id, expiry in the future and at most
//     10 minutes ahead; installation tokens expire after an hour and are
//     revoked when the App is uninstalled.
//   - Installation tokens reach only the repositories their installation
//     covers (all of the account's, or the selected ones), answering 404
//     elsewhere; GET /repos/{o}/{r}/installation answers 404 outside the
//     selection; routes beyond the App's permissions answer 403, and
//     workflow files need the workflows permission.
//   - Pull request titles (256 characters) and bodies (65,536 characters),
//     issue comments (262,144 bytes), check-run summary and text (65,535
//     characters and 65,535 bytes), 50 annotations and 3 actions per
//     request.
//   - Rate limits: a primary window per installation, user and App, and
//     every shape GitHub answers a primary or secondary limit with, 403 or
//     429, with or without Retry-After (Faults, Options.RateLimitStatus).
//   - Git Data API: deleting a missing path, unknown objects and
//     non-fast-forward updates are refused; recursive trees are capped at
//     100,000 entries; the compare API at 250 commits and 300 files.
//   - Webhooks: signed with SHA-256 and SHA-1, 10-second timeout, never
//     retried by GitHub itself, sent only for repositories an installation
//     covers; installation events are sent whatever the App subscribes to.
//
// # Knowingly more lenient
//
//   - Secondary rate limits happen only when injected: concurrency, points
//     per minute and content-creation limits are not counted.
//   - Sizes are not limited: blobs (100 MB on GitHub), the contents API's 1
//     MB, the 7 MB of a recursive tree listing, webhook payloads (25 MB),
//     request bodies beyond 64 MB; large tree creations never time out.
//   - Issues exist only as pull requests; reviews, review comments,
//     statuses, branch protection and required checks are not modelled.
//   - Check runs are never marked stale, and the 1,000 runs per name and
//     suite are not capped.
//   - A token may be scoped to any number of repositories (500 on GitHub).
//   - Forks: maintainer_can_modify is recorded but not enforced.
//   - Webhook deliveries are kept for the life of the server (3 days on
//     github.com, 7 on GitHub Enterprise Server).
//   - The web pages need no sign-in, even for private repositories.
//
// A Server is safe for concurrent use.
package githubtest
