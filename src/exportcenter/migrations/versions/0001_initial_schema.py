"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_heads',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('head_hash', sa.String(length=80), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant')
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=256), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=512), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('source_address', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=80), nullable=True),
    sa.Column('hash', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_tenant'), ['tenant'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_time'), ['time'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('digest', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('source_format', sa.String(length=32), nullable=False),
    sa.Column('spec_version', sa.String(length=32), nullable=True),
    sa.Column('is_scan', sa.Boolean(), nullable=False),
    sa.Column('is_sbom', sa.Boolean(), nullable=False),
    sa.Column('is_vex', sa.Boolean(), nullable=False),
    sa.Column('is_code_guard', sa.Boolean(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ingested_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_tenant'), ['tenant'], unique=False)
        batch_op.create_index('ux_documents_tenant_digest', ['tenant', 'digest'], unique=True)

    op.create_table('exports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=256), nullable=True),
    sa.Column('request_hash', sa.String(length=80), nullable=True),
    sa.Column('storage_prefix', sa.String(length=512), nullable=True),
    sa.Column('manifest', sa.JSON(), nullable=True),
    sa.Column('artifacts', sa.JSON(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('findings_count', sa.Integer(), nullable=False),
    sa.Column('delivery_status', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exports_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_tenant'), ['tenant'], unique=False)
        batch_op.create_index('ix_exports_tenant_created', ['tenant', 'created_at'], unique=False)
        batch_op.create_index('ux_exports_tenant_idem', ['tenant', 'idempotency_key'], unique=True)

    op.create_table('scans',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('document_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('artifact_name', sa.String(length=1024), nullable=False),
    sa.Column('artifact_digest', sa.String(length=128), nullable=True),
    sa.Column('artifact_type', sa.String(length=64), nullable=False),
    sa.Column('scanner_name', sa.String(length=128), nullable=False),
    sa.Column('scanner_version', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('findings_count', sa.Integer(), nullable=False),
    sa.Column('severity_counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scans_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scans_tenant'), ['tenant'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scans_tenant'))
        batch_op.drop_index(batch_op.f('ix_scans_created_at'))

    op.drop_table('scans')
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_index('ux_exports_tenant_idem')
        batch_op.drop_index('ix_exports_tenant_created')
        batch_op.drop_index(batch_op.f('ix_exports_tenant'))
        batch_op.drop_index(batch_op.f('ix_exports_status'))
        batch_op.drop_index(batch_op.f('ix_exports_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_exports_created_at'))

    op.drop_table('exports')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ux_documents_tenant_digest')
        batch_op.drop_index(batch_op.f('ix_documents_tenant'))

    op.drop_table('documents')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_time'))
        batch_op.drop_index(batch_op.f('ix_audit_log_tenant'))

    op.drop_table('audit_log')
    op.drop_table('audit_heads')
    
