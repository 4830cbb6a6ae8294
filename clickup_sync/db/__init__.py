"""PostgreSQL: where the server is (configured or embedded), connections, and migrations.

This package is the only one that opens database connections; the SQL lives in `.sql` files
(`migrations/`, `queries/`) or in named constants next to the code that runs it.
"""
