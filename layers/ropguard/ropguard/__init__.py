"""ropguard: server-side Auth0 password login that forwards the end user's real IP."""
