"""Who may read Faultline: users and passwords, login sessions with CSRF tokens, API bearer tokens."""
