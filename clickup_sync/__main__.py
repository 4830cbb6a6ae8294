from clickup_sync.cli import main

main()
