package backup

// SetProgressWriter turns the progress writer of the runs started from
// now on on or off (off: every row is written at once, as before it
// existed), for benchmarks comparing both. It returns the previous
// setting.
func SetProgressWriter(on bool) bool { return !progressWriterOff.Swap(!on) }
