"""delivery attempts, schedules and schedule fires

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('export_id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('response_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['export_id'], ['exports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_export_id'), ['export_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_attempts_tenant'), ['tenant'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_attempts_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index('ux_delivery_attempts_export_attempt', ['export_id', 'attempt'], unique=True)

    op.create_table('schedules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('cron', sa.String(length=128), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('catch_up', sa.String(length=8), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('next_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedules_tenant'), ['tenant'], unique=False)
        batch_op.create_index(batch_op.f('ix_schedules_next_fire_at'), ['next_fire_at'], unique=False)
        batch_op.create_index('ux_schedules_tenant_name', ['tenant', 'name'], unique=True)

    op.create_table('schedule_fires',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('schedule_id', sa.String(length=64), nullable=False),
    sa.Column('fire_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('export_id', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('scheduler_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('schedule_fires', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_fires_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index('ux_schedule_fires_schedule_time', ['schedule_id', 'fire_time'], unique=True)


def downgrade() -> None:
    op.drop_table('schedule_fires')
    op.drop_table('schedules')
    op.drop_table('delivery_attempts')
