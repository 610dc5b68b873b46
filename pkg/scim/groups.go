package scim

import "net/http"

// groupRoutes registers the /Groups endpoints.
func (s *Server) groupRoutes(m *http.ServeMux) {
	m.HandleFunc(Prefix+"/Groups", s.notImplemented("groups are not available yet"))
	m.HandleFunc(Prefix+"/Groups/{id}", s.notImplemented("groups are not available yet"))
}
