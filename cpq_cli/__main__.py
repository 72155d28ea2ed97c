from cpq_cli.cli.app import main

main()
