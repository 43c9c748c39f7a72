package runlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// EventWriter writes scalar summaries in TensorBoard's event-file format: a TFRecord stream
// (length, masked CRC-32C of the length, payload, masked CRC-32C of the payload) of serialized
// tensorflow.Event protocol buffers. Only the handful of fields scalars need are encoded.
type EventWriter struct {
	f *os.File
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masking of CRC-32C, which keeps CRCs of CRCs well distributed.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, crcTable)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// NewEventWriter creates events.out.tfevents.<unix time>.<host> in dir and writes the
// file-version event TensorBoard expects first.
func NewEventWriter(dir string) (*EventWriter, error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", now.Unix(), host))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	w := &EventWriter{f: f}
	ev := appendDouble(nil, 1, wallTime(now))
	ev = appendBytes(ev, 3, []byte("brain.Event:2"))
	if err := w.writeRecord(ev); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// WriteScalars writes one Event at step holding a simple_value per tag (sorted by tag).
func (w *EventWriter) WriteScalars(step int64, t time.Time, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for k := range values {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	var summary []byte
	for _, tag := range tags {
		var v []byte
		v = appendBytes(v, 1, []byte(tag))
		v = appendFloat(v, 2, float32(values[tag]))
		summary = appendBytes(summary, 1, v)
	}
	ev := appendDouble(nil, 1, wallTime(t))
	ev = appendVarintField(ev, 2, uint64(step))
	ev = appendBytes(ev, 5, summary)
	return w.writeRecord(ev)
}

func (w *EventWriter) writeRecord(payload []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(payload)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], maskedCRC(payload))
	buf := append(append(hdr[:], payload...), tail[:]...)
	if _, err := w.f.Write(buf); err != nil {
		return fmt.Errorf("runlog: writing event file: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *EventWriter) Close() error { return w.f.Close() }

// Protocol-buffer wire encoding of the few field kinds used.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return appendVarint(appendVarint(b, uint64(field)<<3|0), v)
}

func appendDouble(b []byte, field int, v float64) []byte {
	b = appendVarint(b, uint64(field)<<3|1)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendFloat(b []byte, field int, v float32) []byte {
	b = appendVarint(b, uint64(field)<<3|5)
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = appendVarint(b, uint64(field)<<3|2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}
