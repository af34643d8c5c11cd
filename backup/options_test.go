package backup_test

import (
	"time"

	"github.com/scyllaops/scyllaops/backup"
)

func backupOptions() backup.Options {
	return backup.Options{LeaseTTL: 2 * time.Second, LeaseWait: 10 * time.Millisecond}
}
