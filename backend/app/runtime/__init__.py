"""Running Faultline locally: embedded PostgreSQL/Valkey and the process supervisor behind `make run`."""
