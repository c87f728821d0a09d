from shardflow.cli.main import main

main()
