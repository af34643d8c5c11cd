package agent

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"os"
)

// fileCRCs returns the CRC32C of the first size bytes of f and, with
// partSize > 0, of each part of partSize bytes (the last one shorter),
// in one pass over the file: an upload sends the object, or each part,
// with its CRC32C, and stores the whole file's with it. Large files are
// read through short-lived memory mappings of the page cache (see
// crcChunks), not copied out of it.
func fileCRCs(f *os.File, size, partSize int64) (whole uint32, parts []uint32, err error) {
	var (
		part   uint32
		inPart int64
	)
	feed := func(b []byte) {
		whole = crc32.Update(whole, castagnoli, b)
		for partSize > 0 && len(b) > 0 {
			k := min(int64(len(b)), partSize-inPart)
			part = crc32.Update(part, castagnoli, b[:k])
			inPart += k
			b = b[k:]
			if inPart == partSize {
				parts = append(parts, part)
				part, inPart = 0, 0
			}
		}
	}
	err = crcChunks(f, size, func(b []byte) {
		// In pieces that stay in the CPU's cache between the two sums.
		for len(b) > 0 {
			k := min(len(b), crcPiece)
			feed(b[:k])
			b = b[k:]
		}
	})
	if err != nil {
		return 0, nil, err
	}
	if partSize > 0 && inPart > 0 {
		parts = append(parts, part)
	}
	return whole, parts, nil
}

// crcPiece is the size of the pieces both sums of fileCRCs go through.
const crcPiece = 32 << 10

// crcReadChunks feeds the first size bytes of f to feed through a pooled
// buffer (pread).
func crcReadChunks(f *os.File, off, size int64, feed func([]byte)) error {
	buf := getBuf(copyBufSize)
	defer putBuf(buf)
	for size > 0 {
		n, err := f.ReadAt((*buf)[:min(int64(len(*buf)), size)], off)
		if n > 0 {
			feed((*buf)[:n])
			off += int64(n)
			size -= int64(n)
		}
		if err != nil {
			if err == io.EOF && size > 0 {
				return io.ErrUnexpectedEOF
			}
			if size > 0 {
				return err
			}
		}
	}
	return nil
}

// crc32cHex is the hex form of a CRC32C (the agent's metadata).
func crc32cHex(c uint32) string { return hex.EncodeToString(binary.BigEndian.AppendUint32(nil, c)) }

// fileCRC32CSum returns the CRC32C (hex) of the first size bytes of f.
func fileCRC32CSum(f *os.File, size int64) (string, error) {
	c, _, err := fileCRCs(f, size, 0)
	if err != nil {
		return "", err
	}
	return crc32cHex(c), nil
}
