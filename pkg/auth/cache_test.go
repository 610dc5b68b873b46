package auth

import (
	"testing"
	"time"
)

func key(i int) hashKey { return secretHash(string(rune('a'+i%26)) + time.Duration(i).String()) }

func TestExpiringMapBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		max     int
		puts    int
		ttl     time.Duration
		wantMax int
	}{
		{"under the bound", 100, 50, time.Minute, 50},
		{"fresh entries over the bound", 1000, 5000, time.Minute, 1000},
		{"the size of the authenticator's unknown cache", MaxUnknownTokens, 3 * MaxUnknownTokens, time.Minute, MaxUnknownTokens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newExpiringMap[int](tc.max)
			for i := range tc.puts {
				m.put(key(i), i, now, now.Add(tc.ttl))
				if m.len() > tc.max {
					t.Fatalf("after %d puts: %d entries, bound %d", i+1, m.len(), tc.max)
				}
			}
			if m.len() > tc.wantMax {
				t.Fatalf("%d entries, want at most %d", m.len(), tc.wantMax)
			}
			// The last entry put is always there.
			if v, ok := m.get(key(tc.puts-1), now); !ok || v != tc.puts-1 {
				t.Fatalf("last entry: %v %v", v, ok)
			}
		})
	}
}

func TestExpiringMapExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newExpiringMap[string](20)
	for i := range 10 {
		m.put(key(i), "old", now, now.Add(time.Second))
	}
	for i := 10; i < 20; i++ {
		m.put(key(i), "fresh", now, now.Add(time.Hour))
	}
	later := now.Add(2 * time.Second)
	if _, ok := m.get(key(1), later); ok {
		t.Fatal("expired entry returned")
	}
	if v, ok := m.get(key(12), later); !ok || v != "fresh" {
		t.Fatalf("fresh entry: %q %v", v, ok)
	}
	// Full: the expired entries go, and since that frees enough, every
	// fresh one stays.
	m.put(key(20), "new", later, later.Add(time.Hour))
	if m.len() != 11 {
		t.Fatalf("%d entries after the sweep, want 11", m.len())
	}
	for i := 10; i <= 20; i++ {
		if _, ok := m.get(key(i), later); !ok {
			t.Fatalf("fresh entry %d dropped while expired ones could go", i)
		}
	}
	m.delete(key(20))
	if _, ok := m.get(key(20), later); ok {
		t.Fatal("deleted entry returned")
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.7:51234", "192.0.2.7"},
		{"192.0.2.7", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"", ""},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func FuzzClientKey(f *testing.F) {
	for _, s := range []string{"192.0.2.7:51234", "[2001:db8::1]:443", "2001:db8::1", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		k := clientKey(addr)
		if len(k) > 64 {
			t.Fatalf("clientKey(%q) = %q: longer than 64 bytes", addr, k)
		}
		if clientKey(addr) != k {
			t.Fatal("not deterministic")
		}
	})
}
