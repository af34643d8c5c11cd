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
	if partSize <= 0 {
		err = crcChunks(f, size, func(b []byte) { whole = crc32.Update(whole, castagnoli, b) })
		return whole, nil, err
	}
	// The parts' sums only; the whole file's is combined from them (no
	// second sum over the same bytes).
	var (
		part   uint32
		inPart int64
	)
	err = crcChunks(f, size, func(b []byte) {
		for len(b) > 0 {
			k := min(int64(len(b)), partSize-inPart)
			part = crc32.Update(part, castagnoli, b[:k])
			inPart += k
			b = b[k:]
			if inPart == partSize {
				parts = append(parts, part)
				part, inPart = 0, 0
			}
		}
	})
	if err != nil {
		return 0, nil, err
	}
	if inPart > 0 {
		parts = append(parts, part)
	}
	for i, c := range parts {
		n := partSize
		if i == len(parts)-1 && inPart > 0 {
			n = inPart
		}
		whole = crc32Combine(whole, c, n)
	}
	return whole, parts, nil
}

// crc32Combine returns the CRC32C of A followed by B from crcA, crcB and
// the length of B (zlib's crc32_combine: crcA is advanced over lenB zero
// bytes by squaring the GF(2) matrix of one zero bit).
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [32]uint32
	odd[0] = crc32.Castagnoli // the reversed polynomial
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i++ {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
		vec >>= 1
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

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
