package backup_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// URLs
	_ "gocloud.dev/blob/s3blob"  // s3:// URLs

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// openCloud opens the provider test servers started by
// scripts/services.sh (addresses from the environment).
func openCloud(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
	var u string
	switch provider {
	case "s3":
		q := url.Values{"endpoint": {os.Getenv("SCYLLAOPS_S3_ENDPOINT")}, "use_path_style": {"true"}, "region": {"us-east-1"},
			"disable_https": {"true"}, "request_checksum_calculation": {"when_required"}, "response_checksum_validation": {"when_required"}}
		u = "s3://" + bucket + "?" + q.Encode()
	case "gcs":
		u = "gs://" + bucket
	case "azure":
		// Built from the connection string: the URL opener prefers
		// AZURE_STORAGE_ACCOUNT/KEY (also set by services.sh) with the
		// public cloud domain.
		c, err := container.NewClientFromConnectionString(os.Getenv("AZURE_STORAGE_CONNECTION_STRING"), bucket, nil)
		if err != nil {
			return nil, err
		}
		return azureblob.OpenBucket(ctx, c, nil)
	default:
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	return blob.OpenBucket(ctx, u)
}

func TestProviders(t *testing.T) {
	for _, tc := range []struct{ provider, bucketEnv, needEnv string }{
		{"s3", "SCYLLAOPS_S3_BUCKET", "SCYLLAOPS_S3_ENDPOINT"},
		{"gcs", "SCYLLAOPS_GCS_BUCKET", "STORAGE_EMULATOR_HOST"},
		{"azure", "SCYLLAOPS_AZURE_CONTAINER", "AZURE_STORAGE_CONNECTION_STRING"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			bucket := testenv.Need(t, tc.bucketEnv, tc.needEnv)[0]
			e := newEnv(t, scyllatest.Options{}, backupOptions())
			loc := tc.provider + ":" + bucket
			props := `{"location":["` + loc + `"],"retention":1}`
			p1 := e.mustBackup(props)
			if p1.Uploaded != p1.Size || p1.Size == 0 {
				t.Fatalf("first backup uploaded %d of %d", p1.Uploaded, p1.Size)
			}
			e.validate(loc)
			if _, err := e.cluster.WriteData(e.cluster.Nodes()[0], "ks", "t", 1); err != nil {
				t.Fatal(err)
			}
			e.advance(60e9)
			p2 := e.mustBackup(props)
			if p2.Uploaded == 0 || p2.Uploaded >= p2.Size || p2.Skipped != p1.Size {
				t.Fatalf("second backup: uploaded %d skipped %d of %d", p2.Uploaded, p2.Skipped, p2.Size)
			}
			reps := e.validate(loc)
			for _, r := range reps {
				if r.Manifests != 1 || r.OrphanedFiles != 0 {
					t.Errorf("node %s: %d manifests, %d orphans after retention 1", r.Host, r.Manifests, r.OrphanedFiles)
				}
			}
			items, err := e.svc.List(t.Context(), e.clusterID, []string{loc}, backup.ListFilter{ClusterID: e.clusterID})
			if err != nil || len(items) != 1 || len(items[0].SnapshotInfo) != 1 || items[0].SnapshotInfo[0].SnapshotTag != p2.SnapshotTag {
				t.Fatalf("list: %+v %v", items, err)
			}
			// Clean the shared bucket.
			if err := e.svc.DeleteSnapshot(t.Context(), e.clusterID, []string{loc}, []string{p2.SnapshotTag}); err != nil {
				t.Fatal(err)
			}
			reps, err = e.svc.Validate(t.Context(), e.clusterID, []string{loc}, backup.ValidateOptions{DeleteOrphanedFiles: true})
			if err != nil || len(reps) != 0 {
				t.Fatalf("after delete: %d node dirs with manifests, %v", len(reps), err)
			}
			if strings.Contains(loc, " ") {
				t.Fatal("unreachable")
			}
		})
	}
}
