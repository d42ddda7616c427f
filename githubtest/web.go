package githubtest

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
)

// The web pages below are not part of the API contract: GitHub's web pages
// are for people, and the app only links to them. They are the least a
// link from the app's status page or a check run needs to land on: a
// repository, a pull request and a commit, with what they say. They are
// served on their own listener (Server.WebURL) when Options.ServeWeb is
// set, without authentication.

// startWeb serves the web pages on a second listener.
func (s *Server) startWeb() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{owner}/{repo}", s.webRepo)
	mux.HandleFunc("GET /{owner}/{repo}/pull/{number}", s.webPull)
	mux.HandleFunc("GET /{owner}/{repo}/commit/{sha}", s.webCommit)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { webNotFound(w) })
	s.web = httptest.NewServer(mux)
}

var webPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<p><a id="repo" href="{{.RepoURL}}">{{.Repo}}</a></p>
<h1 id="title">{{.Heading}}</h1>
{{with .State}}<p id="state">{{.}}</p>{{end}}
{{range .Facts}}<p>{{.}}</p>
{{end}}{{with .Text}}<pre id="text">{{.}}</pre>{{end}}
{{with .Links}}<ul>{{range .}}<li><a href="{{.URL}}">{{.Text}}</a></li>{{end}}</ul>{{end}}
</body></html>
`))

type webLink struct{ Text, URL string }

type webData struct {
	Title, Repo, RepoURL, Heading, State, Text string
	Facts                                      []string
	Links                                      []webLink
}

func webNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>Page not found · GitHub</title></head><body><h1>404</h1><p>This is not the web page you are looking for.</p></body></html>\n"))
}

func writePage(w http.ResponseWriter, d webData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = webPage.Execute(w, d)
}

// webRepoFor finds the repository of a web request; s.mu is held.
func (s *Server) webRepoFor(r *http.Request) *repo {
	return s.repoFor(r.PathValue("owner"), r.PathValue("repo"))
}

func (s *Server) webRepo(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.webRepoFor(req)
	if r == nil {
		webNotFound(w)
		return
	}
	d := webData{Title: r.fullName(), Repo: r.fullName(), RepoURL: s.repoHTMLURL(r), Heading: r.fullName(),
		Facts: []string{"Default branch: " + r.DefaultBranch}}
	for _, ref := range r.refsWithPrefix("refs/heads/") {
		sha := r.refs[ref]
		d.Links = append(d.Links, webLink{Text: "branch " + strings.TrimPrefix(ref, "refs/heads/") + " at " + sha[:7], URL: s.repoHTMLURL(r) + "/commit/" + sha})
	}
	for _, p := range r.sortedPulls() {
		d.Links = append(d.Links, webLink{Text: "#" + strconv.Itoa(p.Number) + " " + p.Title + " (" + pullState(p) + ")", URL: s.repoHTMLURL(r) + "/pull/" + strconv.Itoa(p.Number)})
	}
	writePage(w, d)
}

func pullState(p *pull) string {
	switch {
	case p.Merged:
		return "Merged"
	case p.State == "closed":
		return "Closed"
	case p.Draft:
		return "Draft"
	}
	return "Open"
}

func (s *Server) webPull(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.webRepoFor(req)
	n, err := strconv.Atoi(req.PathValue("number"))
	if r == nil || err != nil || r.pulls[n] == nil {
		webNotFound(w)
		return
	}
	p := r.pulls[n]
	s.refresh(r, p)
	d := webData{
		Title: p.Title + " · Pull Request #" + strconv.Itoa(n) + " · " + r.fullName(), Repo: r.fullName(), RepoURL: s.repoHTMLURL(r),
		Heading: p.Title + " #" + strconv.Itoa(n), State: pullState(p), Text: p.Body,
		Facts: []string{p.User.Login + " wants to merge " + p.headRepo.Owner.Login + ":" + p.Head + " into " + r.Owner.Login + ":" + p.Base},
	}
	if len(p.Labels) > 0 {
		d.Facts = append(d.Facts, "Labels: "+strings.Join(p.Labels, ", "))
	}
	d.Links = append(d.Links, webLink{Text: "head " + p.HeadSHA[:7], URL: s.repoHTMLURL(r) + "/commit/" + p.HeadSHA})
	if p.Merged {
		d.Links = append(d.Links, webLink{Text: "merged as " + p.MergeCommitSHA[:7], URL: s.repoHTMLURL(r) + "/commit/" + p.MergeCommitSHA})
	}
	writePage(w, d)
}

func (s *Server) webCommit(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.webRepoFor(req)
	if r == nil {
		webNotFound(w)
		return
	}
	sha := r.resolveCommit(req.PathValue("sha"))
	c, ok := r.git.commits[sha]
	if sha == "" || !ok {
		webNotFound(w)
		return
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	d := webData{
		Title: subject + " · " + r.fullName() + "@" + sha[:7], Repo: r.fullName(), RepoURL: s.repoHTMLURL(r),
		Heading: subject, Text: c.Message,
		Facts: []string{"Commit " + sha, c.Author.Name + " committed on " + c.Committer.When.UTC().Format("Jan 2, 2006")},
	}
	for _, parent := range c.Parents {
		d.Links = append(d.Links, webLink{Text: "parent " + parent[:7], URL: s.repoHTMLURL(r) + "/commit/" + parent})
	}
	parent := ""
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	var changed []string
	for _, ch := range diffTrees(r.flatAt(parent), r.flatAt(sha)) {
		changed = append(changed, ch.Status+" "+ch.Path)
	}
	sort.Strings(changed)
	d.Facts = append(d.Facts, changed...)
	writePage(w, d)
}
