"""The control plane: where clusters live, and how they are cloned, described, switched and deleted.

``protocol.ClusterBackend`` is what every place offers; ``factory.get_backend`` picks one by the
Airflow connection's type: ``aurora.AuroraBackend`` (RDS) or ``sandbox.SandboxBackend`` (local
servers). ``aws_calls`` is the AWS error plumbing every AWS client shares.
"""
