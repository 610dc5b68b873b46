package scim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Password sync (Okta's "Sync Password"). With the tenant setting
// passwordSync=true, a password sent on POST, PUT or PATCH is kept only as an
// argon2id hash (PHC string format) on the user item; it is never returned,
// logged or shown by the CLI. With it off (the default) passwords are
// discarded: most applications behind Okta authenticate through Okta, and a
// password that is not stored cannot leak.

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes, 1
// lane), about 20-40 ms on a Lambda arm64 core with 512 MB.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashPassword returns the argon2id hash of password as a PHC string.
func hashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// passwordHash returns the hash to store for the password in doc, or "" when
// there is none or the tenant does not sync passwords. The caller removes
// the password from doc either way (userFields).
func (v *view) passwordHash(doc Resource) (string, error) {
	pw, _ := doc["password"].(string)
	if pw == "" || !v.passwordSync {
		return "", nil
	}
	return hashPassword(pw)
}
