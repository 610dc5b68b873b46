package localdb

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tidwall/btree"

	"github.com/scimless/scimless/pkg/jsonstr"
)

// Durable mode keeps, in Options.Dir:
//
//   - log-N: an append-only log. Each record is framed as
//     [4-byte length][4-byte CRC-32C of the payload][payload]; a payload is
//     one commit (every item it writes, as JSON) or one table-level change.
//     A commit's record is written before the commit is visible and fsynced
//     before it is acknowledged (concurrent writers share one fsync).
//   - snapshot-N: every table's definition and items as of the start of
//     log-N, written to a temporary file, fsynced and renamed into place.
//
// Opening loads the newest snapshot and replays the logs from it on. A
// record cut short or failing its CRC at the end of the newest log (a write
// interrupted by a crash, never acknowledged) is truncated away.

const (
	recCommit byte = 'C'
	recDDL    byte = 'D'
	recHeader byte = 'H'
	recItems  byte = 'I'

	// compactMin is the log size below which the log is never compacted.
	compactMin = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type wal struct {
	dir  string
	lock *os.File

	mu      sync.Mutex // f, gen, size, written
	f       *os.File
	gen     int
	size    int64 // bytes in the current log file
	written int64 // bytes ever appended (positions handed to sync)

	syncMu sync.Mutex
	synced int64

	snapBytes  int64 // size of the last snapshot
	compacting bool
	buf        []byte
}

type logWrite struct {
	Table string `json:"t"`
	Key   item   `json:"k"`
	New   item   `json:"n,omitempty"`
	TTL   bool   `json:"x,omitempty"`
}

type logCommit struct {
	Commit uint64     `json:"c"`
	At     int64      `json:"at"`
	Writes []logWrite `json:"w"`
}

// openLog opens (or creates) the data directory, loads it and starts a log.
func (e *Engine) openLog() error {
	dir := e.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lf.Close()
		return fmt.Errorf("data directory %s is in use by another process: %w", dir, err)
	}
	l := &wal{dir: dir, lock: lf}
	snaps, logs, err := listGens(dir)
	if err != nil {
		_ = lf.Close()
		return err
	}
	base := 0
	if len(snaps) > 0 {
		base = snaps[len(snaps)-1]
		if err := e.loadSnapshot(filepath.Join(dir, fmt.Sprintf("snapshot-%d", base))); err != nil {
			_ = lf.Close()
			return fmt.Errorf("load snapshot: %w", err)
		}
		if st, err := os.Stat(filepath.Join(dir, fmt.Sprintf("snapshot-%d", base))); err == nil {
			l.snapBytes = st.Size()
		}
	}
	var replay []int
	for _, g := range logs {
		if g >= base {
			replay = append(replay, g)
		}
	}
	for i, g := range replay {
		last := i == len(replay)-1
		n, err := e.replayLog(filepath.Join(dir, fmt.Sprintf("log-%d", g)), last)
		if err != nil {
			_ = lf.Close()
			return fmt.Errorf("replay log-%d: %w", g, err)
		}
		if last {
			l.size = n
		}
	}
	l.gen = base
	if len(replay) > 0 {
		l.gen = replay[len(replay)-1]
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("log-%d", l.gen)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		_ = lf.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f = f
	if err := syncDir(dir); err != nil {
		_ = lf.Close()
		return err
	}
	// Files older than the snapshot are no longer needed.
	for _, g := range snaps {
		if g < base {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("snapshot-%d", g)))
		}
	}
	for _, g := range logs {
		if g < base {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("log-%d", g)))
		}
	}
	_ = os.Remove(filepath.Join(dir, "snapshot.tmp"))
	e.log = l
	return nil
}

func listGens(dir string) (snaps, logs []int, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	for _, de := range ents {
		name := de.Name()
		if s, ok := strings.CutPrefix(name, "snapshot-"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				snaps = append(snaps, n)
			}
		}
		if s, ok := strings.CutPrefix(name, "log-"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				logs = append(logs, n)
			}
		}
	}
	sort.Ints(snaps)
	sort.Ints(logs)
	return snaps, logs, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// frame appends one framed record.
func frame(b []byte, typ byte, payload []byte) []byte {
	var h [8]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)+1))
	c := crc32.Update(0, castagnoli, []byte{typ})
	c = crc32.Update(c, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], c)
	b = append(b, h[:]...)
	b = append(b, typ)
	return append(b, payload...)
}

// readRecords calls fn for each intact record of r (size bytes long) and
// returns the offset after the last one. A torn or corrupt record ends the
// read (torn true, err nil).
func readRecords(r io.Reader, size int64, fn func(typ byte, payload []byte) error) (int64, bool, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	var h [8]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return off, err != io.EOF, nil
		}
		n := binary.LittleEndian.Uint32(h[0:4])
		if n == 0 || int64(n) > size-off-8 {
			return off, true, nil
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return off, true, nil
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
			return off, true, nil
		}
		if err := fn(body[0], body[1:]); err != nil {
			return off, false, err
		}
		off += 8 + int64(n)
	}
}

// replayLog applies a log file; a torn tail of the newest log is cut off.
func (e *Engine) replayLog(path string, last bool) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	off, torn, err := readRecords(f, st.Size(), func(typ byte, payload []byte) error {
		switch typ {
		case recCommit:
			var c logCommit
			if err := json.Unmarshal(payload, &c); err != nil {
				return fmt.Errorf("decode commit: %w", err)
			}
			var changes []change
			for _, w := range c.Writes {
				t := e.tables[w.Table]
				if t == nil {
					return fmt.Errorf("commit %d writes to unknown table %s", c.Commit, w.Table)
				}
				h, r, err := t.parseKey(w.Key)
				if err != nil {
					return fmt.Errorf("commit %d: %w", c.Commit, err)
				}
				changes = append(changes, change{t: t, h: h, r: r, old: t.get(h, r), new: w.New, ttl: w.TTL})
			}
			e.commit = c.Commit
			e.applyLocked(changes, time.Unix(0, c.At))
		case recDDL:
			var d ddlRecord
			if err := json.Unmarshal(payload, &d); err != nil {
				return fmt.Errorf("decode table change: %w", err)
			}
			if err := e.replayDDL(d); err != nil {
				return fmt.Errorf("replay %s: %w", d.Op, err)
			}
		default:
			return fmt.Errorf("unknown record type %q", typ)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if torn {
		if !last {
			return 0, fmt.Errorf("%s is corrupt at offset %d", path, off)
		}
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// appendCommit writes a commit's record (caller holds e.mu) and returns the
// position sync must reach for it to be durable.
func (l *wal) appendCommit(commit uint64, at time.Time, changes []change) (int64, error) {
	b := l.buf[:0]
	b = append(b, `{"c":`...)
	b = strconv.AppendUint(b, commit, 10)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, at.UnixNano(), 10)
	b = append(b, `,"w":[`...)
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":`...)
		b = jsonstr.Append(b, c.t.name)
		b = append(b, `,"k":`...)
		b = appendItem(b, c.t.keyItem(c.h, c.r))
		if c.new != nil {
			b = append(b, `,"n":`...)
			b = appendItem(b, c.new)
		}
		if c.ttl {
			b = append(b, `,"x":true`...)
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	l.buf = b
	return l.write(recCommit, b)
}

func (l *wal) appendDDL(payload []byte) (int64, error) { return l.write(recDDL, payload) }

func (l *wal) write(typ byte, payload []byte) (int64, error) {
	rec := frame(nil, typ, payload)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, errors.New("log closed")
	}
	if _, err := l.f.Write(rec); err != nil {
		return 0, err
	}
	l.size += int64(len(rec))
	l.written += int64(len(rec))
	return l.written, nil
}

// sync makes every record up to pos durable. Concurrent callers share one
// fsync: whoever syncs covers everything written before it started.
func (l *wal) sync(pos int64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= pos {
		return nil
	}
	l.mu.Lock()
	f, target := l.f, l.written
	l.mu.Unlock()
	if f == nil {
		return errors.New("log closed")
	}
	if err := f.Sync(); err != nil {
		return err
	}
	l.synced = target
	return nil
}

func (l *wal) close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.f != nil {
		err = l.f.Sync()
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		l.f = nil
	}
	_ = l.lock.Close()
	return err
}

// ---- snapshots ----

type snapTable struct {
	Create  json.RawMessage `json:"create"`
	Created int64           `json:"created"`
	TTL     string          `json:"ttl,omitempty"`
	Streams []snapStream    `json:"streams,omitempty"`
}

type snapStream struct {
	Arn      string `json:"arn"`
	Label    string `json:"label"`
	ViewType string `json:"view"`
	Created  int64  `json:"created"`
	Start    uint64 `json:"start"`
	End      uint64 `json:"end,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

type snapHeader struct {
	Commit uint64                `json:"commit"`
	RecSeq uint64                `json:"recSeq"`
	Tables map[string]*snapTable `json:"tables"`
}

type snapItems struct {
	Table string `json:"t"`
	Items []item `json:"i"`
}

// snapItemsOut is snapItems as written: the items as stored.
type snapItemsOut struct {
	Table string            `json:"t"`
	Items []json.RawMessage `json:"i"`
}

// maybeCompact starts a snapshot when the log has grown past twice the last
// snapshot (and compactMin). Caller holds e.mu for writing.
func (e *Engine) maybeCompact() {
	l := e.log
	if l == nil || l.compacting || l.size < compactMin || l.size < 2*l.snapBytes {
		return
	}
	if err := e.compactLocked(); err != nil {
		l.compacting = false
	}
}

// Compact, in durable mode, starts a new log and writes a snapshot of every
// table in the background (from copy-on-write copies of the trees, so
// writers are not held up); once the snapshot is in place the older log and
// snapshot are deleted. Close waits for a snapshot being written. In memory
// it does nothing.
func (e *Engine) Compact() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.log == nil || e.log.compacting {
		return nil
	}
	return e.compactLocked()
}

func (e *Engine) compactLocked() error {
	l := e.log
	l.compacting = true
	hdr := snapHeader{Commit: e.commit, RecSeq: e.recSeq, Tables: map[string]*snapTable{}}
	trees := map[string]*btree.BTreeG[*entry]{}
	for name, t := range e.tables {
		st := &snapTable{Create: t.createBody, Created: t.created.UnixNano(), TTL: t.ttlAttr}
		for _, s := range t.streams {
			st.Streams = append(st.Streams, snapStream{Arn: s.arn, Label: s.label, ViewType: s.viewType, Created: s.created.UnixNano(), Start: s.start, End: s.end, Disabled: s.disabled})
		}
		hdr.Tables[name] = st
		trees[name] = t.tree.Copy()
	}
	// Rotate: everything so far is in the snapshot; later commits go to the
	// new log.
	l.syncMu.Lock()
	l.mu.Lock()
	err := l.f.Sync()
	var nf *os.File
	if err == nil {
		nf, err = os.OpenFile(filepath.Join(l.dir, fmt.Sprintf("log-%d", l.gen+1)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	}
	if err != nil {
		l.mu.Unlock()
		l.syncMu.Unlock()
		l.compacting = false
		return fmt.Errorf("rotate log: %w", err)
	}
	_ = l.f.Close()
	l.f = nf
	l.gen++
	l.size = 0
	l.synced = l.written
	gen := l.gen
	l.mu.Unlock()
	l.syncMu.Unlock()
	_ = syncDir(l.dir)

	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { _ = recover() }()
		n, err := writeSnapshot(l.dir, gen, hdr, trees)
		e.mu.Lock()
		l.compacting = false
		if err == nil {
			l.snapBytes = n
		}
		e.mu.Unlock()
	}()
	return nil
}

func writeSnapshot(dir string, gen int, hdr snapHeader, trees map[string]*btree.BTreeG[*entry]) (int64, error) {
	tmp := filepath.Join(dir, "snapshot.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	put := func(typ byte, payload []byte) error {
		rec := frame(nil, typ, payload)
		n += int64(len(rec))
		_, err := w.Write(rec)
		return err
	}
	hb, _ := json.Marshal(hdr)
	err = put(recHeader, hb)
	for _, name := range sortedKeys(trees) {
		batch := snapItemsOut{Table: name}
		bytes := 0
		flush := func() {
			if err == nil && len(batch.Items) > 0 {
				b, _ := json.Marshal(batch)
				err = put(recItems, b)
				batch.Items = batch.Items[:0]
				bytes = 0
			}
		}
		trees[name].Scan(func(x *entry) bool {
			batch.Items = append(batch.Items, x.raw)
			bytes += x.size
			if len(batch.Items) == 1000 || bytes >= 4<<20 {
				flush()
			}
			return err == nil
		})
		flush()
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("snapshot-%d", gen)))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	// The snapshot covers every older file.
	snaps, logs, _ := listGens(dir)
	for _, g := range snaps {
		if g < gen {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("snapshot-%d", g)))
		}
	}
	for _, g := range logs {
		if g < gen {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("log-%d", g)))
		}
	}
	return n, nil
}

func (e *Engine) loadSnapshot(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sawHeader := false
	_, torn, err := readRecords(f, st.Size(), func(typ byte, payload []byte) error {
		switch typ {
		case recHeader:
			var h snapHeader
			if err := json.Unmarshal(payload, &h); err != nil {
				return err
			}
			e.commit, e.recSeq = h.Commit, h.RecSeq
			for name, st := range h.Tables {
				if _, err := e.createTableLocked(st.Create, time.Unix(0, st.Created)); err != nil {
					return fmt.Errorf("table %s: %w", name, err)
				}
				t := e.tables[name]
				t.enableTTL(st.TTL)
				t.stream, t.streams = nil, nil
				for _, ss := range st.Streams {
					s := &stream{table: name, arn: ss.Arn, label: ss.Label, viewType: ss.ViewType, created: time.Unix(0, ss.Created), keys: t.key, start: ss.Start, end: ss.End, disabled: ss.Disabled, trimmed: h.RecSeq}
					t.streams = append(t.streams, s)
					if !s.disabled {
						t.stream = s
					}
				}
			}
			sawHeader = true
		case recItems:
			var b snapItems
			if err := json.Unmarshal(payload, &b); err != nil {
				return err
			}
			t := e.tables[b.Table]
			if t == nil {
				return fmt.Errorf("items of unknown table %s", b.Table)
			}
			for _, it := range b.Items {
				h, r, ok := t.key.key(it)
				if !ok {
					return fmt.Errorf("item without its key in table %s", b.Table)
				}
				t.set(h, r, it)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if torn || !sawHeader {
		return fmt.Errorf("%s is incomplete", path)
	}
	return nil
}
