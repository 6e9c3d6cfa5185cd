"""Due-work sweeps driven by APScheduler; all state lives in the database."""
