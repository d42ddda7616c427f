package app

import "net/http"

// statusRoutes will mount the status page; the admin API comes first.
func (a *App) statusRoutes(mux *http.ServeMux) {}
