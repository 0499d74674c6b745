"""Service layer: each public function is one unit of work with its own transaction."""
