"""The `scriptcache` command."""
