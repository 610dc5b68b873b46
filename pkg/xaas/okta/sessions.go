package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Limits of the Identity Sources API.
const (
	// MaxBatchSize is the most entities (users, externalIds, groups or
	// memberships) in one bulk request.
	MaxBatchSize = 200
	// MaxUploadsPerSession is the most bulk requests in one session.
	MaxUploadsPerSession = 50
	// MaxEntitiesPerSession is the most entities uploaded in one session.
	MaxEntitiesPerSession = MaxBatchSize * MaxUploadsPerSession
	// MinSessionGap is the least time between starting an import and
	// creating the identity source's next session.
	MinSessionGap = 5 * time.Minute
	// SessionIdleExpiry is how long an untriggered session lives without API
	// calls before Okta expires it.
	SessionIdleExpiry = 24 * time.Hour
)

// SessionStatus is the state of an identity source session.
type SessionStatus string

// Session states. CREATED, IN_PROGRESS and TRIGGERED are active: while one
// exists, no new session can be created for the identity source.
const (
	StatusCreated    SessionStatus = "CREATED"     // no data uploaded yet
	StatusInProgress SessionStatus = "IN_PROGRESS" // data uploaded, not triggered
	StatusTriggered  SessionStatus = "TRIGGERED"   // import queued or running
	StatusCompleted  SessionStatus = "COMPLETED"   // import done
	StatusClosed     SessionStatus = "CLOSED"      // cancelled, data dropped
	StatusExpired    SessionStatus = "EXPIRED"     // idle for 24 h before triggering
	StatusError      SessionStatus = "ERROR"       // import failed
)

// Active reports whether s blocks the creation of a new session.
func (s SessionStatus) Active() bool {
	return s == StatusCreated || s == StatusInProgress || s == StatusTriggered
}

// Final reports whether s can no longer change.
func (s SessionStatus) Final() bool {
	return s == StatusCompleted || s == StatusClosed || s == StatusExpired || s == StatusError
}

// Cancellable reports whether a session in state s can be cancelled (it has
// not been triggered).
func (s SessionStatus) Cancellable() bool {
	return s == StatusCreated || s == StatusInProgress
}

// Session is an identity source session.
type Session struct {
	// ID is the session ID.
	ID string
	// IdentitySourceID is the identity source (Custom Identity Source app) ID.
	IdentitySourceID string
	// Status is the session's state.
	Status SessionStatus
	// ImportType is "INCREMENTAL" (the only type Okta has).
	ImportType string
	// Created is when the session was created; zero when Okta does not send
	// it or sends it in an unknown format.
	Created time.Time
	// LastUpdated is when the session last changed; zero like Created.
	LastUpdated time.Time
}

// UnmarshalJSON decodes Okta's session object. The timestamps are optional
// and an unparseable one is ignored rather than failing the decode.
func (s *Session) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID               string          `json:"id"`
		IdentitySourceID string          `json:"identitySourceId"`
		Status           string          `json:"status"`
		ImportType       string          `json:"importType"`
		Created          json.RawMessage `json:"created"`
		LastUpdated      json.RawMessage `json:"lastUpdated"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = Session{
		ID:               raw.ID,
		IdentitySourceID: raw.IdentitySourceID,
		Status:           SessionStatus(raw.Status),
		ImportType:       raw.ImportType,
		Created:          parseTimestamp(raw.Created),
		LastUpdated:      parseTimestamp(raw.LastUpdated),
	}
	return nil
}

// MarshalJSON encodes the session as Okta does.
func (s Session) MarshalJSON() ([]byte, error) {
	type wire struct {
		ID               string     `json:"id"`
		IdentitySourceID string     `json:"identitySourceId"`
		Status           string     `json:"status"`
		ImportType       string     `json:"importType,omitempty"`
		Created          *time.Time `json:"created,omitempty"`
		LastUpdated      *time.Time `json:"lastUpdated,omitempty"`
	}
	w := wire{ID: s.ID, IdentitySourceID: s.IdentitySourceID, Status: string(s.Status), ImportType: s.ImportType}
	if !s.Created.IsZero() {
		w.Created = &s.Created
	}
	if !s.LastUpdated.IsZero() {
		w.LastUpdated = &s.LastUpdated
	}
	return json.Marshal(w)
}

func parseTimestamp(raw json.RawMessage) time.Time {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// decodeSession parses one session object and checks it has an ID.
func decodeSession(body []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	if s.ID == "" {
		return nil, errors.New("session without id")
	}
	return &s, nil
}

// decodeSessions parses a list of sessions; null is an empty list.
func decodeSessions(body []byte) ([]Session, error) {
	var list []Session
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	if list == nil {
		list = []Session{}
	}
	return list, nil
}

func (c *Client) sessionsPath(sourceID string) string {
	return "/api/v1/identity-sources/" + url.PathEscape(sourceID) + "/sessions"
}

func (c *Client) sessionPath(sourceID, sessionID string) string {
	return c.sessionsPath(sourceID) + "/" + url.PathEscape(sessionID)
}

func checkIDs(sourceID string, sessionID ...string) error {
	if sourceID == "" {
		return errors.New("okta: empty identity source ID")
	}
	for _, s := range sessionID {
		if s == "" {
			return errors.New("okta: empty session ID")
		}
	}
	return nil
}

// call sends an API request to path (relative to the org URL). Any 2xx
// status is success: Okta documents 200 for session bodies, 202 for uploads
// and 204 for a cancel.
func (c *Client) call(ctx context.Context, method, path string, body []byte) (*response, error) {
	return c.send(ctx, request{method: method, url: c.base + path, path: path, body: body, contentType: "application/json", auth: true})
}

// ListSessions returns the identity source's sessions as Okta lists them:
// documented as the active ones, but filter on Status.Active rather than
// relying on it.
func (c *Client) ListSessions(ctx context.Context, sourceID string) ([]Session, error) {
	if err := checkIDs(sourceID); err != nil {
		return nil, err
	}
	path := c.sessionsPath(sourceID)
	resp, err := c.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	list, err := decodeSessions(resp.body)
	if err != nil {
		return nil, fmt.Errorf("okta: GET %s: decoding sessions: %w", path, err)
	}
	return list, nil
}

// GetSession returns one session.
func (c *Client) GetSession(ctx context.Context, sourceID, sessionID string) (*Session, error) {
	if err := checkIDs(sourceID, sessionID); err != nil {
		return nil, err
	}
	return c.sessionCall(ctx, http.MethodGet, c.sessionPath(sourceID, sessionID))
}

// CreateSession creates a session (status CREATED). Okta refuses it with a
// 400 CodeValidation while another session of the source is active or
// within MinSessionGap of the last import start.
func (c *Client) CreateSession(ctx context.Context, sourceID string) (*Session, error) {
	if err := checkIDs(sourceID); err != nil {
		return nil, err
	}
	return c.sessionCall(ctx, http.MethodPost, c.sessionsPath(sourceID))
}

// StartImport triggers the import of the data uploaded in the session and
// returns it (status TRIGGERED). Okta processes it asynchronously; see
// WaitForImport.
func (c *Client) StartImport(ctx context.Context, sourceID, sessionID string) (*Session, error) {
	if err := checkIDs(sourceID, sessionID); err != nil {
		return nil, err
	}
	return c.sessionCall(ctx, http.MethodPost, c.sessionPath(sourceID, sessionID)+"/start-import")
}

func (c *Client) sessionCall(ctx context.Context, method, path string) (*Session, error) {
	resp, err := c.call(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeSession(resp.body)
	if err != nil {
		return nil, fmt.Errorf("okta: %s %s: decoding session: %w", method, path, err)
	}
	return s, nil
}

// CancelSession cancels a session that has not been triggered: Okta drops
// its uploaded data and the session becomes CLOSED.
func (c *Client) CancelSession(ctx context.Context, sourceID, sessionID string) error {
	if err := checkIDs(sourceID, sessionID); err != nil {
		return err
	}
	_, err := c.call(ctx, http.MethodDelete, c.sessionPath(sourceID, sessionID), nil)
	return err
}

// WaitForImport polls the session every interval (default 10s) until its
// import has ended, and returns its last state. It returns as soon as the
// status is neither TRIGGERED nor unknown to this package (so a status Okta
// adds later is waited out); the caller checks for StatusCompleted. It stops
// with ctx.
func (c *Client) WaitForImport(ctx context.Context, sourceID, sessionID string, interval time.Duration) (*Session, error) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	for {
		s, err := c.GetSession(ctx, sourceID, sessionID)
		if err != nil {
			return nil, err
		}
		if s.Status != StatusTriggered && (s.Status.Active() || s.Status.Final()) {
			return s, nil
		}
		if err := c.sleep(ctx, interval); err != nil {
			return s, err
		}
	}
}
