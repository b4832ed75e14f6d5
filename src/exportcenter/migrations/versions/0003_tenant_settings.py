"""tenant settings (branding) and tenant templates

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant_settings',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branding', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('tenant')
    )
    op.create_table('tenant_templates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tenant_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_templates_tenant'), ['tenant'], unique=False)
        batch_op.create_index('ux_tenant_templates_tenant_name', ['tenant', 'name'], unique=True)


def downgrade() -> None:
    op.drop_table('tenant_templates')
    op.drop_table('tenant_settings')
