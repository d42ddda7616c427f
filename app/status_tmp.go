package app

import "net/http"

func (a *App) statusRoutes(mux *http.ServeMux) {}
func (a *App) adminRoutes(mux *http.ServeMux)  {}
