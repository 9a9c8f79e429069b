"""Search service: Arabic-aware search over users, posts and communities."""
