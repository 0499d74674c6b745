"""``fusion-bridge deploy``: files, packages, mirrors, groups, deploying."""
