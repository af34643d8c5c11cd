package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

// progressView renders one task type's progress. A new task type adds
// one file progress_<type>.go and a line in progressViews.
type progressView struct {
	// text renders the tables below the run header.
	text func(p json.RawMessage, o progressOpts) (string, error)
	// fraction returns done/total for the live bar; nil: no bar.
	fraction func(p json.RawMessage) (done, total int64)
	// unit prints the bar's done and total; nil: byte sizes.
	unit func(n int64) string
}

type progressOpts struct {
	details bool
	hosts   []string
	now     time.Time
}

func progressViews() map[string]progressView {
	return map[string]progressView{
		"backup":          backupView(),
		"validate_backup": validateBackupView(),
		"restore":         restoreView(),
		"1_1_restore":     restoreView(),
		"repair":          repairView(),
	}
}

func (a *app) progressCmd() *cobra.Command {
	var runID string
	var o progressOpts
	var follow bool
	cmd := &cobra.Command{
		Use:   "progress <type/task-id>",
		Short: "Show the task progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, ref, err := a.clusterTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if runID == "" {
				runID = "latest"
			}
			if !cmd.Flags().Changed("follow") {
				follow = isTerminal(a.stdout) && a.format == "table"
			}
			view := progressViews()[ref.typ]
			p, err := a.client.RunProgress(ctx, cl, ref.typ, ref.id, runID)
			if err != nil {
				return err
			}
			if follow && p.Run.Status == "RUNNING" {
				if p, err = a.follow(ctx, cl, ref, p.Run.ID, view); err != nil {
					return err
				}
			}
			if ok, err := a.structured(p); ok {
				return err
			}
			o.now = time.Now()
			a.printf("%s", runHeader(p.Run, o.now))
			if view.text == nil {
				var v any
				if len(p.Progress) > 0 && json.Unmarshal(p.Progress, &v) == nil {
					b, _ := json.MarshalIndent(v, "", "  ")
					a.printf("\n%s\n", b)
				}
				return nil
			}
			s, err := view.text(p.Progress, o)
			if err != nil {
				return err
			}
			a.printf("%s", s)
			return nil
		},
	}
	a.clusterFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&runID, "run", "", "Show progress of a particular run (UUID, latest or ~N)")
	fl.BoolVar(&o.details, "details", false, "More detailed progress data, per table")
	fl.StringSliceVar(&o.hosts, "host", nil, "Show progress of these hosts only")
	fl.BoolVar(&follow, "follow", false, "Draw a live progress bar while the run is RUNNING (default when stdout is a terminal)")
	return cmd
}

// follow polls the run and redraws a progress bar until it is no longer
// RUNNING, and returns the last progress.
func (a *app) follow(ctx context.Context, cl string, ref taskRef, runID string, view progressView) (restapi.TaskRunProgress, error) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := a.client.RunProgress(ctx, cl, ref.typ, ref.id, runID)
		if err != nil {
			return p, err
		}
		var done, total int64
		if view.fraction != nil {
			done, total = view.fraction(p.Progress)
		}
		fmt.Fprintf(a.stderr, "\r%s %s", progressBar(done, total, 40, view.unit), p.Run.Status)
		if p.Run.Status != "RUNNING" {
			fmt.Fprintln(a.stderr)
			return p, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.stderr)
			return p, ctx.Err()
		case <-tick.C:
		}
	}
}

// ProgressBar draws [#####-----]  42% 1.2GiB/3GiB.
func ProgressBar(done, total int64, width int) string {
	return progressBar(done, total, width, sizeString)
}

// progressBar draws the bar with done/total printed by unit (nil: byte
// sizes).
func progressBar(done, total int64, width int, unit func(int64) string) string {
	if unit == nil {
		unit = sizeString
	}
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	frac = min(max(frac, 0), 1)
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%% %s/%s", strings.Repeat("█", n), strings.Repeat("░", width-n), frac*100, unit(done), unit(total))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runHeader(r restapi.TaskRun, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run:\t\t%s\n", r.ID)
	fmt.Fprintf(&b, "Status:\t\t%s\n", r.Status)
	if r.Cause != "" {
		fmt.Fprintf(&b, "Cause:\t\t%s\n", r.Cause)
	}
	if r.StartTime != nil {
		fmt.Fprintf(&b, "Start time:\t%s\n", timeString(r.StartTime))
	}
	if r.EndTime != nil {
		fmt.Fprintf(&b, "End time:\t%s\n", timeString(r.EndTime))
	}
	if d := durationString(r.StartTime, r.EndTime, now); d != "" {
		fmt.Fprintf(&b, "Duration:\t%s\n", d)
	}
	return b.String()
}

// decodeProgress decodes the progress of a run of type what; no progress
// decodes as the zero value.
func decodeProgress[T any](raw json.RawMessage, what string) (T, error) {
	var p T
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return p, fmt.Errorf("%s progress: %w", what, err)
		}
	}
	return p, nil
}

// barFraction is a progressView.fraction: f of the progress decoded as a
// T (the zero T when it does not decode).
func barFraction[T any](f func(p T) (done, total int64)) func(json.RawMessage) (int64, int64) {
	return func(raw json.RawMessage) (int64, int64) {
		var p T
		_ = json.Unmarshal(raw, &p)
		return f(p)
	}
}
