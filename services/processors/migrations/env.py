from services.common.migration_env import run

run()
