package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// OrderKey returns the key that orders a webhook's deliveries of event (its
// JSON): the tenant, the webhook and the resource the event is about — the
// user of a user.* event, the group of a group.* event and of a
// group.member_* event (a group's membership changes share its line); an
// XaaS record by its externalId.
// Deliveries with the same key are made one at a time, in the order they
// were queued; deliveries with different keys are
// independent. An event whose resource cannot be read is ordered with all
// of its webhook's other such events.
func OrderKey(tenant, webhookID string, event []byte) string {
	var e struct {
		Type string `json:"type"`
		Data struct {
			ID         string `json:"id"`
			ExternalID string `json:"externalId"` // an XaaS record's key
			Group      struct {
				ID string `json:"id"`
			} `json:"group"`
		} `json:"data"`
	}
	base := tenant + "/" + webhookID
	if json.Unmarshal(event, &e) != nil {
		return base
	}
	if e.Data.ID == "" && e.Data.ExternalID != "" {
		// A record an XaaS source pushed: keyed apart from SCIM resources.
		e.Data.ID = "xaas/" + e.Data.ExternalID
	}
	switch {
	case strings.HasPrefix(e.Type, "group.member_"):
		if e.Data.Group.ID != "" {
			return base + "/group/" + e.Data.Group.ID
		}
	case strings.HasPrefix(e.Type, "group."):
		if e.Data.ID != "" {
			return base + "/group/" + e.Data.ID
		}
	case strings.HasPrefix(e.Type, "user."):
		if e.Data.ID != "" {
			return base + "/user/" + e.Data.ID
		}
	}
	return base
}

// key returns the job's ordering key (OrderKey when the job has none).
func (j *Job) key() string {
	if j.Key == "" {
		j.Key = OrderKey(j.Tenant, j.WebhookID, j.Event)
	}
	return j.Key
}

// maxGroupID is the longest SQS message group id.
const maxGroupID = 128

// groupID returns an SQS FIFO message group id for an ordering key: the key
// itself when SQS accepts it (1 to 128 characters, letters, digits and
// punctuation), else its SHA-256 in hex.
func groupID(key string) string {
	if len(key) > 0 && len(key) <= maxGroupID && !strings.ContainsFunc(key, func(r rune) bool { return r < '!' || r > '~' }) {
		return key
	}
	return hashHex(key)
}

func hashHex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
