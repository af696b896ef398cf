"""ropguard-doctor: is the Auth0 tenant configured so that ``auth0-forwarded-for`` is honoured?

``check`` reads the tenant through the Management API and reports findings; ``prove`` and
``smoke`` show in Auth0's own logs which address it counted; ``apply`` writes auth0/tenant.yaml.
The scheduled ``TenantCheckFunction`` runs the same code (``ropguard_doctor.scheduled``).
"""
