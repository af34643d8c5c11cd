package backup

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// MaxContentCheckBytes caps the size of a Data.db file the content check
// reads back through the manager.
const MaxContentCheckBytes = 64 << 20

// contentCandidate is an SSTable whose Data.db can be checked against its
// Digest.crc32.
type contentCandidate struct {
	data, digest string // resolved bucket paths
}

// checkContent re-reads up to n sampled Data.db files of the node's kept
// snapshots and compares their CRC32 with the Digest.crc32 Scylla wrote.
// The agent serves file contents only under backup/meta, so each sample
// is copied (server-side where the provider can) to a scratch name there,
// read, and deleted.
func (s *Service) checkContent(ctx context.Context, c *agentclient.Client, host string, loc backupspec.Location,
	ms []*remoteManifest, byDir map[string][]string, present map[string]int64, n int, rep *ValidateReport) error {
	seen := map[string]bool{}
	var cands []contentCandidate
	for _, m := range ms {
		if m.Info.Temporary {
			continue
		}
		for _, fm := range m.Index {
			dir := backupspec.SSTVersionDir(m.Info.ClusterID, m.Info.DC, m.Info.NodeID, fm.Keyspace, fm.Table, fm.Version)
			v := backupspec.IndexVersions(byDir[dir])
			bundles, _ := backupspec.GroupBundles(fm.Files)
			for _, b := range bundles {
				var data, digest string
				for _, f := range b.Files {
					switch {
					case strings.HasSuffix(f, "-Data.db"):
						data = path.Join(dir, v.Resolve(f, m.Info.SnapshotTag))
					case strings.HasSuffix(f, "-Digest.crc32"):
						digest = path.Join(dir, v.Resolve(f, m.Info.SnapshotTag))
					}
				}
				size, ok := present[data]
				if data == "" || digest == "" || seen[data] || !ok || size > MaxContentCheckBytes {
					continue
				}
				if _, ok := present[digest]; !ok {
					continue
				}
				seen[data] = true
				cands = append(cands, contentCandidate{data: data, digest: digest})
			}
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	if len(cands) > n {
		cands = cands[:n]
	}
	scratch := path.Join(backupspec.MetaDir, ".validate", uuid.NewString())
	for i, cd := range cands {
		want, err := c.Cat(ctx, host, loc.RemoteName(), cd.digest)
		if err != nil {
			return fmt.Errorf("backup: content check: read %s from node %s: %w", cd.digest, host, err)
		}
		tmp := path.Join(scratch, strconv.Itoa(i)+"-"+path.Base(cd.data))
		if err := c.CopyFile(ctx, host, loc.RemoteName(), tmp, loc.RemoteName(), cd.data); err != nil {
			return fmt.Errorf("backup: content check: copy %s on node %s: %w", cd.data, host, err)
		}
		b, err := c.Cat(ctx, host, loc.RemoteName(), tmp)
		if _, derr := c.DeletePaths(context.WithoutCancel(ctx), host, loc.RemoteName(), "", []string{tmp}); derr != nil {
			s.log.Warn("content check: delete scratch copy", "path", tmp, "error", derr)
		}
		if err != nil {
			return fmt.Errorf("backup: content check: read %s from node %s: %w", cd.data, host, err)
		}
		rep.ContentChecked++
		got := strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10)
		if strings.TrimSpace(string(want)) != got {
			rep.ContentErrors = append(rep.ContentErrors, fmt.Sprintf("%s: crc32 %s, Digest.crc32 says %s", cd.data, got, strings.TrimSpace(string(want))))
		}
	}
	return nil
}
