package xaas

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cursor kinds: a cursor of one listing is refused by another.
const (
	cursorUsers   = "u" // GET /xaas/v1/users: an externalId
	cursorChanged = "c" // GET /xaas/v1/users?changedSince=: a change key
	cursorFailed  = "f" // GET /xaas/v1/users?failed=true: a change key
	cursorGroups  = "g" // GET /xaas/v1/groups: an externalId
	cursorSyncs   = "s" // GET /xaas/v1/syncs: a run id
	cursorItems   = "i" // GET /items: an externalId
)

// cursorVersion starts every cursor, so that the format can change.
const cursorVersion = "x1"

// maxCursorPos bounds a cursor's position: an externalId, or a change key
// (a time and an externalId).
const maxCursorPos = MaxExternalIDLen + 64

// maxCursorLen bounds a cursor: a position base64url-encoded with its tag.
const maxCursorLen = 4*(maxCursorPos+32)/3 + 1

// tenantTag is a short hash of the tenant in each cursor: a cursor of one
// tenant is refused by another.
func tenantTag(tenant string) string {
	h := sha256.Sum256([]byte(tenant))
	return hex.EncodeToString(h[:6])
}

// encodeCursor returns the opaque cursor of the page of kind that starts
// after pos; "" when pos is "" (no next page).
func encodeCursor(kind, tenant, pos string) string {
	if pos == "" {
		return ""
	}
	raw := cursorVersion + "." + kind + "." + tenantTag(tenant) + "." + pos
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor returns the position a cursor of kind holds ("" for none).
// A cursor this server did not hand to the tenant for this listing is a
// 400.
func decodeCursor(kind, tenant, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	bad := errStatus(http.StatusBadRequest, "invalid cursor: pass back the \"next\" value of the previous page unchanged")
	if len(cursor) > maxCursorLen {
		return "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", bad
	}
	parts := strings.SplitN(string(raw), ".", 4)
	if len(parts) != 4 || parts[0] != cursorVersion || parts[1] != kind || parts[2] != tenantTag(tenant) {
		return "", bad
	}
	pos := parts[3]
	if pos == "" || len(pos) > maxCursorPos || !utf8.ValidString(pos) || strings.IndexFunc(pos, unicode.IsControl) >= 0 {
		return "", bad
	}
	return pos, nil
}
