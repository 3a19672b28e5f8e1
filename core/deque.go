package core

// refDeque holds one priority level of a queue: refs in arrival order, with
// stable absolute positions so a consumer can remember how far it has scanned.
// The end position only grows (tombstones at the back stay until they reach the
// front), so a scanner never misses a ref appended after it looked.
// Removing from the middle leaves a tombstone (nil) that is skipped and dropped
// when it reaches the front; when tombstones outnumber live refs the deque is
// compacted, which renumbers positions and bumps epoch so scanners restart.
type refDeque struct {
	buf   []*ref // ring buffer, len is a power of two
	head  int    // physical index of the first slot
	n     int    // slots in use, tombstones included
	base  int64  // absolute position of the first slot
	live  int    // non-tombstone refs
	epoch uint32 // bumped when positions are renumbered
}

func (d *refDeque) end() int64 { return d.base + int64(d.n) }

func (d *refDeque) slot(pos int64) int { return (d.head + int(pos-d.base)) & (len(d.buf) - 1) }

func (d *refDeque) at(pos int64) *ref { return d.buf[d.slot(pos)] }

func (d *refDeque) grow() {
	size := len(d.buf) * 2
	if size == 0 {
		size = 16
	}
	nb := make([]*ref, size)
	for i := 0; i < d.n; i++ {
		nb[i] = d.buf[(d.head+i)&(len(d.buf)-1)]
	}
	d.buf, d.head = nb, 0
}

func (d *refDeque) pushBack(r *ref) {
	if d.n == len(d.buf) {
		d.grow()
	}
	pos := d.end()
	d.buf[(d.head+d.n)&(len(d.buf)-1)] = r
	d.n++
	d.live++
	r.pos = pos
}

func (d *refDeque) pushFront(r *ref) {
	if d.n == len(d.buf) {
		d.grow()
	}
	d.head = (d.head - 1) & (len(d.buf) - 1)
	d.buf[d.head] = r
	d.n++
	d.base--
	d.live++
	r.pos = d.base
}

// remove tombstones r's slot. r must be in this deque.
func (d *refDeque) remove(r *ref) {
	d.buf[d.slot(r.pos)] = nil
	d.live--
	r.pos = -1
	d.trimFront()
}

// maybeCompact compacts when tombstones outnumber live refs. It is called
// outside scans, since compaction renumbers the positions a scan walks.
func (d *refDeque) maybeCompact() {
	if d.n > 64 && d.n-d.live > d.live {
		d.compact()
	}
}

func (d *refDeque) trimFront() {
	for d.n > 0 && d.buf[d.head] == nil {
		d.head = (d.head + 1) & (len(d.buf) - 1)
		d.n--
		d.base++
	}
}

// compact drops tombstones and renumbers positions from base.
func (d *refDeque) compact() {
	j := 0
	for i := 0; i < d.n; i++ {
		r := d.buf[(d.head+i)&(len(d.buf)-1)]
		if r == nil {
			continue
		}
		d.buf[(d.head+j)&(len(d.buf)-1)] = r
		r.pos = d.base + int64(j)
		j++
	}
	for i := j; i < d.n; i++ {
		d.buf[(d.head+i)&(len(d.buf)-1)] = nil
	}
	d.n = j
	d.epoch++
}
