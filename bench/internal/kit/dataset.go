package kit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// datasetVersion changes whenever the generated shape changes, so a cached
// data set of an older shape is regenerated.
const datasetVersion = 1

// FileSpec is one generated file: its path relative to the data dir, size
// and SHA-256.
type FileSpec struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Dataset is the cached description of a generated node data dir.
type Dataset struct {
	Version int        `json:"version"`
	Seed    uint64     `json:"seed"`
	Scale   float64    `json:"scale"`
	Files   []FileSpec `json:"files"`
	// Bytes is the sum of Files' sizes.
	Bytes int64 `json:"bytes"`
}

// components of one SSTable, Data.db first.
var components = [...]string{"Data.db", "Index.db", "Summary.db", "Filter.db", "Statistics.db", "TOC.txt", "Digest.crc32", "CompressionInfo.db"}

// bigDataMiB are the sizes of the 10 big Data.db files (1,600 MiB in all),
// as in the test-infra performance baseline.
var bigDataMiB = [...]int64{256, 224, 208, 192, 176, 160, 128, 112, 80, 64}

// tables are the 5 table directories across 3 keyspaces.
var tables = [...][2]string{{"ks1", "events"}, {"ks1", "users"}, {"ks2", "orders"}, {"ks2", "items"}, {"ks3", "metrics"}}

const sstablesPerTable = 50

// Sizes.
const (
	MiB = 1 << 20
	KiB = 1 << 10
)

// plan returns the files of the data set (paths and sizes, no checksums):
// 250 SSTables × 8 components = 2,000 files. 10 Data.db are 64–256 MiB,
// the other 240 Data.db 256 KiB–2 MiB, TOC.txt 4–8 KiB, every other
// component 4–64 KiB. Sizes are multiplied by scale (at least 1 byte).
func plan(seed uint64, scale float64) []FileSpec {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	sz := func(n int64) int64 { return max(1, int64(math.Round(float64(n)*scale))) }
	between := func(lo, hi int64) int64 { return lo + r.Int64N(hi-lo+1) }
	// The big Data.db files go to SSTables spread over the tables.
	big := map[int]int64{}
	for i, m := range bigDataMiB {
		big[i*(len(tables)*sstablesPerTable)/len(bigDataMiB)+3] = m * MiB
	}
	var out []FileSpec
	n := 0
	for _, t := range tables {
		var id [16]byte
		binary.LittleEndian.PutUint64(id[:8], r.Uint64())
		binary.LittleEndian.PutUint64(id[8:], r.Uint64())
		dir := filepath.Join(t[0], t[1]+"-"+hex.EncodeToString(id[:]))
		for g := 1; g <= sstablesPerTable; g++ {
			for _, c := range components {
				var size int64
				switch c {
				case "Data.db":
					if b, ok := big[n]; ok {
						size = b
					} else {
						size = between(256*KiB, 2*MiB)
					}
				case "TOC.txt":
					size = between(4*KiB, 8*KiB)
				default:
					size = between(4*KiB, 64*KiB)
				}
				out = append(out, FileSpec{Path: filepath.Join(dir, fmt.Sprintf("me-%d-big-%s", g, c)), Size: sz(size)})
			}
			n++
		}
	}
	return out
}

// LoadOrGenerate returns the data set in dir/data, generating it (and
// dir/dataset.json) unless a complete one of the same seed, scale and
// version is there.
func LoadOrGenerate(dir string, seed uint64, scale float64, logf func(string, ...any)) (*Dataset, error) {
	dataDir := filepath.Join(dir, "data")
	manifest := filepath.Join(dir, "dataset.json")
	if ds, err := readDataset(manifest); err == nil && ds.Version == datasetVersion && ds.Seed == seed && ds.Scale == scale && checkSizes(dataDir, ds) == nil {
		logf("data set: cached in %s (%d files, %.1f MiB)", dataDir, len(ds.Files), float64(ds.Bytes)/MiB)
		return ds, nil
	}
	logf("data set: generating in %s (seed %d, scale %g)", dataDir, seed, scale)
	start := time.Now()
	_ = os.Remove(manifest)
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, err
	}
	ds := &Dataset{Version: datasetVersion, Seed: seed, Scale: scale, Files: plan(seed, scale)}
	buf := make([]byte, MiB)
	for i := range ds.Files {
		f := &ds.Files[i]
		sum, err := writeRandomFile(filepath.Join(dataDir, f.Path), f.Size, seed, uint64(i), buf)
		if err != nil {
			return nil, err
		}
		f.SHA256 = sum
		ds.Bytes += f.Size
	}
	b, err := json.MarshalIndent(ds, "", " ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(manifest, b, 0o644); err != nil {
		return nil, err
	}
	logf("data set: %d files, %.1f MiB generated in %s", len(ds.Files), float64(ds.Bytes)/MiB, time.Since(start).Round(time.Millisecond))
	return ds, nil
}

func readDataset(path string) (*Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ds Dataset
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, err
	}
	return &ds, nil
}

// checkSizes reports an error unless every file of ds exists in dataDir
// with its size (content is checked against checksums only after uploads).
func checkSizes(dataDir string, ds *Dataset) error {
	n := 0
	for _, f := range ds.Files {
		st, err := os.Stat(filepath.Join(dataDir, f.Path))
		if err != nil {
			return err
		}
		if st.Size() != f.Size {
			return fmt.Errorf("%s: size %d, want %d", f.Path, st.Size(), f.Size)
		}
		n++
	}
	if n == 0 {
		return errors.New("empty data set")
	}
	return nil
}

// writeRandomFile writes size incompressible bytes (ChaCha8 seeded by seed
// and the file index) to path and returns their SHA-256.
func writeRandomFile(path string, size int64, seed, index uint64, buf []byte) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], index)
	src := rand.NewChaCha8(key)
	h := sha256.New()
	w := io.MultiWriter(f, h)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = src.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			f.Close()
			return "", err
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
