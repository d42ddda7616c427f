package githubtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The Go methods below act on the App's installations as an account's
// administrator would on github.com. Like the other helpers, they panic on
// an unknown installation or repository, a mistake in the calling test.

// installation is the App installed on one account. It covers every
// repository of the account, present and future, or only the selected ones
// ("Only select repositories" on github.com).
type installation struct {
	ID        int64
	Account   *user
	CreatedAt time.Time
	UpdatedAt time.Time
	// selected holds the ids of the repositories an installation with
	// repository_selection "selected" covers; nil means all of them.
	selected map[int64]bool
}

// selection is the installation's repository_selection.
func (i *installation) selection() string {
	if i.selected == nil {
		return "all"
	}
	return "selected"
}

// covers reports whether the installation reaches r.
func (i *installation) covers(r *repo) bool {
	return r.Owner == i.Account && (i.selected == nil || i.selected[r.ID])
}

// AddInstallation installs the App on owner (an organization, or the human
// user when owner is the user's login) and returns the installation id.
// With repos (names of owner's repositories), the installation covers only
// those (repository_selection "selected"); without, it covers every
// repository of owner, present and future. It is setup, like CreateRepo:
// no webhook is sent (InstallApp sends one). Adding an existing
// installation returns its id and leaves its selection as it is.
func (s *Server) AddInstallation(owner string, repos ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst := s.installationFor(s.ownerFor(owner)); inst != nil {
		return inst.ID
	}
	return s.install(owner, repos).ID
}

// InstallApp installs the App on owner as the account's administrator does
// on github.com, and sends "installation" "created", which GitHub sends to
// every App whatever it subscribes to. repos select repositories as in
// AddInstallation. It panics when the App is already installed on owner.
func (s *Server) InstallApp(owner string, repos ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst := s.installationFor(s.ownerFor(owner)); inst != nil {
		panic(fmt.Sprintf("githubtest: the App is already installed on %s (installation %d)", owner, inst.ID))
	}
	inst := s.install(owner, repos)
	s.emitInstallation(inst, "installation", "created", map[string]any{
		"repositories": s.miniReposJSON(s.coveredRepos(inst)),
	})
	return inst.ID
}

func (s *Server) install(owner string, repos []string) *installation {
	acct := s.ownerFor(owner)
	now := s.now()
	inst := &installation{ID: s.newID(), Account: acct, CreatedAt: now, UpdatedAt: now}
	if len(repos) > 0 {
		inst.selected = s.repoIDs(inst, repos)
	}
	s.installations[inst.ID] = inst
	return inst
}

// repoIDs resolves repository names of an installation's account.
func (s *Server) repoIDs(inst *installation, names []string) map[int64]bool {
	ids := map[int64]bool{}
	for _, name := range names {
		if o, n, ok := strings.Cut(name, "/"); ok {
			if !strings.EqualFold(o, inst.Account.Login) {
				panic(fmt.Sprintf("githubtest: %s is not a repository of %s", name, inst.Account.Login))
			}
			name = n
		}
		ids[s.mustRepo(inst.Account.Login+"/"+name).ID] = true
	}
	return ids
}

// UninstallApp deletes an installation as the account's administrator does,
// and sends "installation" "deleted". Its tokens stop working at once.
func (s *Server) UninstallApp(installationID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.mustInstallation(installationID)
	covered := s.coveredRepos(inst)
	delete(s.installations, inst.ID)
	s.emitInstallation(inst, "installation", "deleted", map[string]any{
		"repositories": s.miniReposJSON(covered),
	})
}

// SetInstallationRepos changes which repositories an installation covers,
// as "Repository access" in the installation's settings does: repos
// (names of the account's repositories) select those only; none selects
// all repositories. It sends "installation_repositories" "removed" for
// the repositories the installation no longer reaches and "added" for the
// ones it now reaches (and "added" when it switches to all repositories).
func (s *Server) SetInstallationRepos(installationID int64, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.mustInstallation(installationID)
	var selected map[int64]bool
	if len(repos) > 0 {
		selected = s.repoIDs(inst, repos)
	}
	s.changeSelection(inst, selected)
}

// AddInstallationRepos adds repositories to an installation's selection
// (see SetInstallationRepos). An installation of all repositories already
// covers them; nothing happens.
func (s *Server) AddInstallationRepos(installationID int64, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.mustInstallation(installationID)
	if inst.selected == nil {
		return
	}
	selected := s.repoIDs(inst, repos)
	for id := range inst.selected {
		selected[id] = true
	}
	s.changeSelection(inst, selected)
}

// RemoveInstallationRepos takes repositories out of an installation (see
// SetInstallationRepos). An installation of all repositories becomes one
// of the account's other repositories, as unticking a repository does on
// github.com.
func (s *Server) RemoveInstallationRepos(installationID int64, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.mustInstallation(installationID)
	drop := s.repoIDs(inst, repos)
	selected := map[int64]bool{}
	for _, r := range s.coveredRepos(inst) {
		if !drop[r.ID] {
			selected[r.ID] = true
		}
	}
	s.changeSelection(inst, selected)
}

// InstallationRepos returns the full names of the repositories an
// installation covers, sorted.
func (s *Server) InstallationRepos(installationID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.coveredRepos(s.mustInstallation(installationID)) {
		out = append(out, r.fullName())
	}
	return out
}

func (s *Server) mustInstallation(id int64) *installation {
	inst, ok := s.installations[id]
	if !ok {
		panic(fmt.Sprintf("githubtest: no installation %d", id))
	}
	return inst
}

// changeSelection sets an installation's selection (nil: all) and sends
// installation_repositories for what changed.
func (s *Server) changeSelection(inst *installation, selected map[int64]bool) {
	before := s.coveredRepos(inst)
	wasAll := inst.selected == nil
	inst.selected = selected
	after := s.coveredRepos(inst)
	inSet := func(list []*repo) map[*repo]bool {
		m := map[*repo]bool{}
		for _, r := range list {
			m[r] = true
		}
		return m
	}
	had, has := inSet(before), inSet(after)
	var added, removed []*repo
	for _, r := range after {
		if !had[r] {
			added = append(added, r)
		}
	}
	for _, r := range before {
		if !has[r] {
			removed = append(removed, r)
		}
	}
	if len(added) == 0 && len(removed) == 0 && wasAll == (selected == nil) {
		return
	}
	inst.UpdatedAt = s.now()
	send := func(action string, added, removed []*repo) {
		s.emitInstallation(inst, "installation_repositories", action, map[string]any{
			"repository_selection": inst.selection(),
			"repositories_added":   s.miniReposJSON(added),
			"repositories_removed": s.miniReposJSON(removed),
		})
	}
	if len(removed) > 0 {
		send("removed", nil, removed)
	}
	// Switching to all repositories arrives as "added", even when it adds
	// nothing new (inferred from the payload schema: repository_selection
	// is part of the event, and "added" is the only action that widens).
	if len(added) > 0 || (selected == nil && !wasAll) {
		send("added", added, nil)
	}
}

// coveredRepos lists the repositories an installation covers, by name.
func (s *Server) coveredRepos(inst *installation) []*repo {
	var out []*repo
	for _, r := range s.sortedRepos() {
		if inst.covers(r) {
			out = append(out, r)
		}
	}
	return out
}

// miniReposJSON is the short repository list of installation events:
// exactly id, node_id, name, full_name and private (the octokit/webhooks
// schemas for installation and installation_repositories allow nothing
// else).
func (s *Server) miniReposJSON(repos []*repo) []map[string]any {
	out := []map[string]any{}
	for _, r := range repos {
		out = append(out, map[string]any{
			"id":        r.ID,
			"node_id":   fmt.Sprintf("R_%d", r.ID),
			"name":      r.Name,
			"full_name": r.fullName(),
			"private":   true,
		})
	}
	return out
}

// emitInstallation records an installation or installation_repositories
// webhook. GitHub sends these to every App, subscribed or not, with the
// full installation object, "requester" (null: the account's
// administrator acted) and "sender".
func (s *Server) emitInstallation(inst *installation, event, action string, payload map[string]any) {
	payload["action"] = action
	payload["installation"] = s.installationJSON(inst)
	payload["requester"] = nil
	payload["sender"] = s.userJSON(s.human)
	body, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("githubtest: encoding %s payload: %v", event, err))
	}
	s.hooks.enqueue(&delivery{
		GUID: newGUID(), Event: event, Action: action, InstallationID: inst.ID, Payload: body, Created: s.now(),
	})
}

func (s *Server) installationFor(owner *user) *installation {
	for _, inst := range s.installations {
		if inst.Account == owner {
			return inst
		}
	}
	return nil
}

// installationHTMLURL is the installation's settings page.
func (s *Server) installationHTMLURL(inst *installation) string {
	if inst.Account.Type == "Organization" {
		return fmt.Sprintf("%sorganizations/%s/settings/installations/%d", s.opts.WebURL, inst.Account.Login, inst.ID)
	}
	return fmt.Sprintf("%ssettings/installations/%d", s.opts.WebURL, inst.ID)
}

// installationJSON is the installation object of the REST API and of
// webhook payloads (octokit/webhooks schema "installation").
func (s *Server) installationJSON(inst *installation) map[string]any {
	targetType := inst.Account.Type
	if targetType == "Bot" {
		targetType = "User"
	}
	return map[string]any{
		"id":                        inst.ID,
		"account":                   s.userJSON(inst.Account),
		"repository_selection":      inst.selection(),
		"access_tokens_url":         fmt.Sprintf("%sapp/installations/%d/access_tokens", s.apiURL(), inst.ID),
		"repositories_url":          s.apiURL() + "installation/repositories",
		"html_url":                  s.installationHTMLURL(inst),
		"app_id":                    s.opts.AppID,
		"app_slug":                  s.opts.AppSlug,
		"target_id":                 inst.Account.ID,
		"target_type":               targetType,
		"permissions":               s.permissions(),
		"events":                    s.subscribedEvents(),
		"created_at":                isoTime(inst.CreatedAt),
		"updated_at":                isoTime(inst.UpdatedAt),
		"single_file_name":          nil,
		"has_multiple_single_files": false,
		"single_file_paths":         []string{},
		"suspended_by":              nil,
		"suspended_at":              nil,
	}
}
