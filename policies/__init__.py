"""The agency's posted comment policy, as reviewed data (see README.md beside this file)."""
