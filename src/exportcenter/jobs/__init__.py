"""Export jobs: states, guarded transitions, executors."""
