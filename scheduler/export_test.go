package scheduler

// Crash makes the scheduler die like a killed process when its Run
// context is canceled: lease renewals stop at once and nothing is
// written or released afterwards.
func (s *Scheduler) Crash() { s.crash.Store(true) }
