"""The API's routes, one ``APIRouter`` per group; `taskq_lib.api.app` includes each."""
