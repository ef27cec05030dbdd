"""The interview: planning (planner), the state machine (session), recording (recorder) and
building the engine from settings (factory)."""
