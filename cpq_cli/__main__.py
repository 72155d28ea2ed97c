from cpq_cli.cli.main import main

main()
